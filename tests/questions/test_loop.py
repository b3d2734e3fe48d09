"""The whole loop through the services, on both databases: ask, notify, answer, follow up,
resolve, reopen, merge duplicates, escalate by hand, turn the answer into a KB draft."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlmodel import Session, select

from hub.errors import Conflict, InvalidInput, NotFound, PermissionDenied
from hub.exams.timetable import report_problem
from hub.models import ExamSession, Platform, utcnow
from hub.people import get_department
from hub.questions import answers, asking, escalation, knowledge, merging, queues
from hub.questions.attachments import Upload
from hub.questions.models import MessageKind, Question, QuestionStatus
from hub.questions.sla import profile
from hub.settings import Settings
from kb.models import Status
from tests import html
from tests.questions.conftest import PNG, College, mails, posts


def ask(
    db: Session,
    settings: Settings,
    user,
    title="Moodle refuse mon devoir",
    body="Erreur 500 au dépôt du fichier.",
    **kw,
):  # type: ignore[no-untyped-def]
    question = asking.ask(
        db,
        actor=user,
        title=title,
        body=body,
        data_dir=settings.data_dir,
        base_url=settings.base_url,
        **kw,
    )
    db.commit()
    return question


def test_whole_loop(db: Session, settings: Settings, college: College) -> None:
    question = ask(db, settings, college.teacher, uploads=[Upload("capture.png", PNG)])
    assert question.status == "open" and question.level == 0
    # The department's main referent is mailed (not the backup), the channel gets a post.
    new = mails(db, "question.new")
    assert [m.recipient for m in new] == [college.referent.email]
    assert "Moodle refuse mon devoir" in new[0].subject
    assert len(posts(db, "question.new")) == 1
    assert posts(db)[0].recipient == f"department:{question.department_id}"

    # The referent sees it in the department queue, answers, writes an internal note.
    sla = profile(db, settings)
    rows = queues.combined_queue(
        db, actor=college.referent, filters=queues.QueueFilters(), profile=sla
    )
    assert [r.question.id for r in rows] == [question.id]
    assert rows[0].due_at is not None
    answers.answer(
        db,
        actor=college.referent,
        question_id=question.id,
        body="Note : déjà vu hier.",
        internal=True,
        data_dir=settings.data_dir,
        base_url=settings.base_url,
    )
    answers.answer(
        db,
        actor=college.referent,
        question_id=question.id,
        body="Videz le cache puis réessayez.",
        data_dir=settings.data_dir,
        base_url=settings.base_url,
    )
    db.commit()
    db.refresh(question)
    assert question.status == "answered"
    assert question.first_response_at is not None
    answer_mail = mails(db, "question.answer")
    assert [m.recipient for m in answer_mail] == [college.teacher.email]
    assert "Videz le cache" in answer_mail[0].body_text
    assert "déjà vu" not in answer_mail[0].body_text

    # The asker never sees the internal note; staff do.
    seen = answers.view_question(db, actor=college.teacher, question_id=question.id)
    assert [m.kind for m in seen.messages] == ["answer"]
    assert len(seen.attachments) == 1 and seen.events == ()
    staff = answers.view_question(db, actor=college.referent, question_id=question.id)
    assert [m.kind for m in staff.messages] == ["note", "answer"]
    assert [e.action for e in staff.events] == ["created", "note", "answered"]

    # Follow-up, then "still stuck" after "resolved": the clock restarts.
    answers.reply(
        db,
        actor=college.teacher,
        question_id=question.id,
        body="Toujours pareil.",
        base_url=settings.base_url,
    )
    db.commit()
    db.refresh(question)
    assert question.status == "open"
    answers.resolve(db, actor=college.teacher, question_id=question.id)
    db.commit()
    assert question.status == "resolved"
    before = question.clock_started_at
    answers.reopen(
        db,
        actor=college.teacher,
        question_id=question.id,
        body="Ça recommence.",
        base_url=settings.base_url,
    )
    db.commit()
    db.refresh(question)
    assert question.status == "open" and question.first_response_at is None
    assert question.clock_started_at > before and question.resolved_at is None
    actions = [
        e.action
        for e in answers.view_question(db, actor=college.elearning, question_id=question.id).events
    ]
    assert actions[-3:] == ["replied", "resolved", "reopened"]

    # A colleague cannot reply to or reopen someone else's question.
    with pytest.raises(NotFound):
        answers.reply(
            db,
            actor=college.colleague,
            question_id=question.id,
            body="moi aussi",
            base_url=settings.base_url,
        )

    # Manual escalation with a reason; only once.
    with pytest.raises(InvalidInput):
        escalation.escalate(
            db,
            actor=college.referent,
            question_id=question.id,
            reason=" ",
            base_url=settings.base_url,
        )
    escalation.escalate(
        db,
        actor=college.referent,
        question_id=question.id,
        reason="Bug Moodle côté serveur",
        base_url=settings.base_url,
    )
    db.commit()
    with pytest.raises(Conflict):
        escalation.escalate(
            db,
            actor=college.referent,
            question_id=question.id,
            reason="encore",
            base_url=settings.base_url,
        )
    db.rollback()
    team = mails(db, "question.escalated.1")
    assert [m.recipient for m in team] == [college.elearning.email]
    assert "Bug Moodle" in team[0].body_text
    assert [p.recipient for p in posts(db, "question.escalated.1")] == ["crisis"]
    central = queues.elearning_queue(
        db, actor=college.elearning, filters=queues.QueueFilters(), profile=sla
    )
    assert [r.question.id for r in central] == [question.id]
    with pytest.raises(PermissionDenied):
        queues.elearning_queue(
            db, actor=college.referent, filters=queues.QueueFilters(), profile=sla
        )

    # The central team answers and turns it into a draft KB article linked to the question.
    answers.answer(
        db,
        actor=college.elearning,
        question_id=question.id,
        body="Corrigé côté serveur.",
        data_dir=settings.data_dir,
        base_url=settings.base_url,
    )
    article = knowledge.draft_article(db, actor=college.elearning, question_id=question.id)
    db.commit()
    assert article.status is Status.draft
    assert "Corrigé côté serveur" in article.body and "Erreur 500" in article.body
    db.refresh(question)
    assert question.article_id == article.id
    assert (
        knowledge.draft_article(db, actor=college.elearning, question_id=question.id).id
        == article.id
    )


def test_merge_answers_once_and_notifies_every_asker(
    db: Session, settings: Settings, college: College
) -> None:
    first = ask(
        db,
        settings,
        college.teacher,
        title="Teams : pas de son en réunion",
        body="Mes étudiants ne m'entendent pas dans Teams.",
    )
    second = ask(
        db,
        settings,
        college.colleague,
        title="Pas de son dans Teams",
        body="Micro muet en réunion Teams.",
    )
    third = ask(
        db,
        settings,
        college.teacher,
        title="Son coupé Teams cours",
        body="Le son de Teams se coupe en réunion.",
    )
    similar = merging.similar_questions(db, actor=college.referent, question_id=first.id)
    assert {s.question.id for s in similar} >= {second.id}
    merging.merge(
        db,
        actor=college.referent,
        duplicate_id=second.id,
        into_id=first.id,
        base_url=settings.base_url,
    )
    merging.merge(
        db,
        actor=college.referent,
        duplicate_id=third.id,
        into_id=second.id,
        base_url=settings.base_url,
    )  # -> root
    db.commit()
    db.refresh(second)
    db.refresh(third)
    assert second.status == third.status == "merged"
    assert second.merged_into_id == third.merged_into_id == first.id
    with pytest.raises(Conflict):
        merging.merge(
            db,
            actor=college.referent,
            duplicate_id=second.id,
            into_id=first.id,
            base_url=settings.base_url,
        )
    db.rollback()
    assert {m.recipient for m in mails(db, "question.merged")} == {
        college.colleague.email,
        college.teacher.email,
    }

    answers.answer(
        db,
        actor=college.referent,
        question_id=first.id,
        body="Vérifiez le périphérique audio choisi.",
        data_dir=settings.data_dir,
        base_url=settings.base_url,
    )
    db.commit()
    recipients = sorted(m.recipient for m in mails(db, "question.answer"))
    assert recipients == sorted([college.teacher.email, college.colleague.email])  # once each

    # The colleague sees the answer on their own (merged) question, not the other's text.
    view = answers.view_question(db, actor=college.colleague, question_id=second.id)
    assert [m.body for m in view.followed_answers] == ["Vérifiez le périphérique audio choisi."]
    assert view.merged_into is None
    with pytest.raises(NotFound):
        answers.view_question(db, actor=college.colleague, question_id=first.id)
    with pytest.raises(Conflict):
        answers.answer(
            db,
            actor=college.referent,
            question_id=second.id,
            body="x",
            data_dir=settings.data_dir,
            base_url=settings.base_url,
        )


def test_exam_problem_becomes_urgent_question(
    db: Session, settings: Settings, college: College
) -> None:
    exam = ExamSession(
        course_code="MATH101",
        course_name="Mathématiques",
        department_id=get_department(db, "SCI").id,
        starts_at=utcnow(),
        duration_minutes=120,
        platform=Platform.moodle,
        access_url="https://moodle.example/quiz",
        contact_email="exams@college.example",
    )
    db.add(exam)
    db.commit()
    report_problem(
        db,
        exam_id=exam.id,
        name="Léa Martin",
        email="lea@etu.example",
        student_number="123",
        message="Le quiz ne s'ouvre pas",
        address="10.0.0.1",
        base_url=settings.base_url,
    )
    db.commit()
    question = db.exec(select(Question)).one()
    assert question.priority == "urgent" and question.source == "exam"
    assert question.asker_id is None and question.asker_email == "lea@etu.example"
    assert "MATH101" in question.title
    assert [m.recipient for m in mails(db, "question.new")] == [college.referent.email]
    assert mails(db, "question.new")[0].subject.startswith("URGENT")
    answers.answer(
        db,
        actor=college.referent,
        question_id=question.id,
        body="Rechargez la page du quiz.",
        data_dir=settings.data_dir,
        base_url=settings.base_url,
    )
    db.commit()
    assert [m.recipient for m in mails(db, "question.answer")] == ["lea@etu.example"]


def test_backup_referent_covers_absence(db: Session, settings: Settings, college: College) -> None:
    from datetime import timedelta

    sla = profile(db, settings)
    question = ask(db, settings, college.teacher)
    backup_rows = queues.combined_queue(
        db, actor=college.other_referent, filters=queues.QueueFilters(), profile=sla
    )
    assert question.id not in [r.question.id for r in backup_rows]
    queues.set_absence(
        db, actor=college.referent, user=college.referent, until=utcnow() + timedelta(days=3)
    )
    db.commit()
    backup_rows = queues.combined_queue(
        db, actor=college.other_referent, filters=queues.QueueFilters(), profile=sla
    )
    assert question.id in [r.question.id for r in backup_rows]
    second = ask(db, settings, college.colleague, title="Quiz Moodle bloqué")
    assert [m.recipient for m in mails(db, "question.new") if str(second.id) in m.dedupe_key] == [
        college.other_referent.email
    ]
    with pytest.raises(PermissionDenied):
        queues.set_absence(db, actor=college.other_referent, user=college.referent, until=None)


def test_validation_and_roles(db: Session, settings: Settings, college: College) -> None:
    with pytest.raises(InvalidInput) as error:
        asking.ask(
            db,
            actor=college.teacher,
            title="abc",
            body="",
            data_dir=settings.data_dir,
            base_url=settings.base_url,
        )
    assert set(error.value.fields) == {"title", "body"}
    with pytest.raises(PermissionDenied):
        asking.ask(
            db,
            actor=college.student,
            title="Une question",
            body="texte",
            data_dir=settings.data_dir,
            base_url=settings.base_url,
        )
    question = ask(db, settings, college.teacher)
    with pytest.raises(PermissionDenied):
        escalation.escalate(
            db,
            actor=college.elearning,
            question_id=question.id,
            reason="x",
            base_url=settings.base_url,
        )
    with pytest.raises(InvalidInput):
        answers.assign(
            db,
            actor=college.referent,
            question_id=question.id,
            assignee_id=college.teacher.id,
            base_url=settings.base_url,
        )
    answers.assign(
        db,
        actor=college.referent,
        question_id=question.id,
        assignee_id=college.referent.id,
        base_url=settings.base_url,
    )
    answers.assign(
        db,
        actor=college.referent,
        question_id=question.id,
        assignee_id=college.elearning.id,
        base_url=settings.base_url,
    )
    assert answers.set_tags(
        db, actor=college.referent, question_id=question.id, tags=["Moodle", " devoir ", "moodle"]
    ) == ["devoir", "moodle"]
    answers.set_priority(db, actor=college.referent, question_id=question.id, priority="high")
    db.commit()
    assert [m.recipient for m in mails(db, "question.assigned")] == [college.elearning.email]
    rows = queues.department_queue(
        db,
        actor=college.referent,
        code="SCI",
        filters=queues.QueueFilters(tag="moodle"),
        profile=profile(db, settings),
    )[1]
    assert [r.question.id for r in rows] == [question.id] and rows[0].tags == ["devoir", "moodle"]
    assert (
        queues.department_queue(
            db,
            actor=college.referent,
            code="SCI",
            filters=queues.QueueFilters(tag="teams"),
            profile=profile(db, settings),
        )[1]
        == []
    )
    assert (
        queues.department_queue(
            db,
            actor=college.referent,
            code="SCI",
            filters=queues.QueueFilters(priority="urgent"),
            profile=profile(db, settings),
        )[1]
        == []
    )
    assert (
        len(
            queues.department_queue(
                db,
                actor=college.referent,
                code="SCI",
                filters=queues.QueueFilters(q="devoirs moodle"),
                profile=profile(db, settings),
            )[1]
        )
        == 1
    )


def test_deflection_is_measured(db: Session, settings: Settings, college: College) -> None:
    from kb.articles import ArticleInput, save_article

    save_article(
        db,
        ArticleInput(
            slug="moodle-depot-devoir",
            title="Déposer un devoir sur Moodle",
            kind="tutorial",
            audience="teacher",
            body="Étapes pour déposer un devoir.",
            status="published",
        ),
        actor=None,
    )
    db.commit()
    key = asking.new_draft_key()
    shown = asking.suggest(
        db, actor=college.teacher, title="depot devoir moodle", body="", draft_key=key
    )
    asking.suggest(
        db, actor=college.teacher, title="depot devoir moodle", body="", draft_key=key
    )  # keystroke
    assert [r.article.slug for r in shown.results] == ["moodle-depot-devoir"]
    asking.record_click(db, actor=college.teacher, draft_key=key, slug="moodle-depot-devoir")
    asking.solved_by_suggestion(
        db, actor=college.teacher, draft_key=key, slug="moodle-depot-devoir"
    )
    other = asking.new_draft_key()
    asking.suggest(
        db, actor=college.colleague, title="depot devoir moodle", body="", draft_key=other
    )
    ask(db, settings, college.colleague, draft_key=other)
    stats = asking.deflection_stats(db, actor=college.elearning)
    assert (
        stats.forms_with_suggestions,
        stats.forms_clicked,
        stats.solved,
        stats.asked,
        stats.asked_after_suggestions,
    ) == (2, 1, 1, 1, 1)
    assert stats.rate == 0.5
    with pytest.raises(NotFound):  # someone else's form
        asking.solved_by_suggestion(
            db, actor=college.colleague, draft_key=key, slug="moodle-depot-devoir"
        )


def test_attachment_files_are_stored_under_random_names(
    db: Session, settings: Settings, college: College
) -> None:
    from hub.questions.attachments import open_attachment

    question = ask(db, settings, college.teacher, uploads=[Upload("../../etc/passwd.png", PNG)])
    view = answers.view_question(db, actor=college.teacher, question_id=question.id)
    row = view.attachments[0]
    assert row.filename == "passwd.png" and row.content_type == "image/png"
    _, path = open_attachment(
        db, actor=college.referent, attachment_id=row.id, data_dir=settings.data_dir
    )
    assert path.read_bytes() == PNG
    assert Path(settings.data_dir / "attachments") in path.parents and "passwd" not in path.name
    for outsider in (college.colleague, college.other_referent.__class__ and college.other_teacher):
        with pytest.raises(NotFound):
            open_attachment(db, actor=outsider, attachment_id=row.id, data_dir=settings.data_dir)
    assert MessageKind.note.value == "note" and QuestionStatus.open.value == "open"


def test_files_of_a_rolled_back_question_are_pruned_after_the_grace_period(
    db: Session, settings: Settings, college: College
) -> None:
    import os
    import time

    from hub.jobs import prune_history
    from hub.questions.attachments import prune_orphan_files, storage_root

    kept = ask(db, settings, college.teacher, uploads=[Upload("gardee.png", PNG)])
    asking.ask(
        db,
        actor=college.teacher,
        title="Question abandonnée",
        body="La transaction est annulée après l'écriture du fichier.",
        uploads=[Upload("perdue.png", PNG)],
        data_dir=settings.data_dir,
        base_url=settings.base_url,
    )
    db.rollback()  # the request failed after the file was written
    root = storage_root(settings.data_dir)
    files = sorted(p for p in root.rglob("*") if p.is_file())
    assert len(files) == 2
    kept_name = (
        answers.view_question(db, actor=college.teacher, question_id=kept.id)
        .attachments[0]
        .storage_name
    )
    orphan = next(p for p in files if not str(p).endswith(kept_name))
    interrupted = orphan.with_name("0" * 32 + ".png.part")  # a write cut short
    interrupted.write_bytes(PNG[:8])

    # Young files may belong to a request still running: left alone.
    assert prune_orphan_files(db, data_dir=settings.data_dir).removed == 0
    assert orphan.exists() and interrupted.exists()

    two_hours_ago = time.time() - 7200
    for path in (*files, interrupted):
        os.utime(path, (two_hours_ago, two_hours_ago))
    engine = db.get_bind()
    prune_history(engine, settings)  # the hourly job
    assert not orphan.exists() and not interrupted.exists()
    assert (root / kept_name).read_bytes() == PNG  # still served to its readers
    db.rollback()
    assert prune_orphan_files(db, data_dir=settings.data_dir).checked == 1


def test_the_teams_home_page_counts_escalations_and_failed_messages(
    app: object, db: Session, settings: Settings, college: College
) -> None:
    """The e-learning team's "at a glance": escalated questions still open, and messages that
    failed for good (read by the services `escalated_open_count` and `failed_count`)."""
    from fastapi.testclient import TestClient

    from hub.outbox import OutboxMessage, OutboxStatus
    from tests.factories import sign_in

    kept = ask(db, settings, college.teacher)
    ask(db, settings, college.colleague, title="Teams ne démarre pas")
    escalation.escalate(
        db,
        actor=college.referent,
        question_id=kept.id or 0,
        reason="Moodle",
        base_url=settings.base_url,
    )
    message = db.exec(select(OutboxMessage)).first()
    assert message is not None
    message.status = OutboxStatus.failed.value
    db.add(message)
    db.commit()
    with TestClient(app, follow_redirects=False) as client:  # type: ignore[arg-type]
        sign_in(client, college.elearning)
        home = html.text(client.get("/"), "#glance-title + ul")
    assert "1 question escaladée en attente" in home
    assert "1 message en échec" in home
