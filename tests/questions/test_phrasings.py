"""Phrasings learned from the hub's life (issue 16): a referent's answer linking an article,
"ça a résolu mon problème" on a suggestion and an answer turned into an article propose the
question's words as a phrasing; a referent or the team adds it in one click, and search then
finds the article by those words."""

from __future__ import annotations

from fastapi.testclient import TestClient
from sqlmodel import Session, select

from hub.questions import answers, asking, knowledge
from hub.settings import Settings
from kb.articles import ArticleInput, save_article
from kb.models import Article, ArticleRevision, PhrasingProposal
from kb.search import search
from tests import html
from tests.factories import csrf_from, sign_in
from tests.questions.conftest import College

SLUG = "teams-enregistrer-reunion"
TITLE = "où sont passées les vidéos de mes cours en direct"


def publish(db: Session, *, department: str | None = None, slug: str = SLUG) -> Article:
    article, _ = save_article(
        db,
        ArticleInput(
            slug=slug,
            title="Enregistrer un cours Teams et retrouver l'enregistrement",
            kind="tutorial",
            audience="teacher",
            body="Lancez l'enregistrement depuis le menu Plus ; il arrive dans OneDrive.",
            department=department,
            status="published",
        ),
        actor=None,
    )
    db.commit()
    return article


def ask(db: Session, settings: Settings, college: College, title: str = TITLE) -> int:
    question = asking.ask(
        db,
        actor=college.teacher,
        title=title,
        body="Je ne les retrouve nulle part après le cours.",
        data_dir=settings.data_dir,
        base_url=settings.base_url,
    )
    db.commit()
    assert question.id is not None
    return question.id


def reply(
    db: Session, settings: Settings, college: College, question_id: int, body: str, **kw: bool
) -> None:
    answers.answer(
        db,
        actor=college.referent,
        question_id=question_id,
        body=body,
        data_dir=settings.data_dir,
        base_url=settings.base_url,
        **kw,
    )
    db.commit()


def proposals(db: Session) -> list[PhrasingProposal]:
    db.commit()  # a new transaction: see what the pages committed
    db.expire_all()
    return list(db.exec(select(PhrasingProposal).order_by(PhrasingProposal.id)).all())


def test_an_answer_linking_an_article_proposes_the_question_and_repeats_confirm(
    db: Session, settings: Settings, college: College
) -> None:
    publish(db)
    first = ask(db, settings, college)
    reply(db, settings, college, first, "Voyez la note interne /kb/" + SLUG, internal=True)
    assert proposals(db) == []  # an internal note proposes nothing
    reply(db, settings, college, first, f"Tout est expliqué ici : {settings.base_url}/kb/{SLUG}")
    [proposal] = proposals(db)
    assert (proposal.text, proposal.source, proposal.question_id) == (
        TITLE,
        "answer_link",
        first,
    )
    assert proposal.confirmations == 1
    # A colleague asks the same words (other case, other spacing): one more confirmation.
    second = ask(db, settings, college, title="Où sont passées  les vidéos de mes cours en DIRECT")
    reply(db, settings, college, second, f"Voir [le tutoriel](/kb/{SLUG}).")
    [proposal] = proposals(db)
    assert proposal.confirmations == 2
    # A link to an article that does not exist, or a title too short to say anything: nothing.
    third = ask(db, settings, college, title="Teams ???")
    reply(db, settings, college, third, f"/kb/{SLUG} et /kb/nexiste-pas")
    assert len(proposals(db)) == 1


def test_one_click_adds_the_phrasing_and_search_finds_the_article_by_it(
    client: TestClient, db: Session, settings: Settings, college: College
) -> None:
    publish(db)
    # A distractor whose title holds the query's words, so the phrasing has to make the
    # difference (before it is added, the tutorial is not first for these words).
    save_article(
        db,
        ArticleInput(
            slug="videos-cours-direct",
            title="Des vidéos pour vos cours en direct",
            kind="guide",
            audience="teacher",
            body="Montrer une vidéo pendant un cours en direct.",
            status="published",
        ),
        actor=None,
    )
    db.commit()
    before = search(db, TITLE, viewer=college.teacher).results
    assert before and before[0].article.slug != SLUG
    question = ask(db, settings, college)
    reply(db, settings, college, question, f"/kb/{SLUG}")

    sign_in(client, college.referent)
    queue = client.get("/queues")
    assert html.text(queue, "a[href='/kb/phrasings'] .badge") == "1"
    page = client.get("/kb/phrasings")
    assert page.status_code == 200
    assert TITLE in html.text(page, ".phrasings")
    assert f"question n° {question}" in html.text(page, ".phrasings")
    [accept] = html.select(page, "form[action$='/accept']")
    added = client.post(accept["action"], data={"csrf_token": csrf_from(page.text)})
    assert added.status_code == 303
    after_page = client.get(added.headers["location"])
    assert "Formulation ajoutée" in after_page.text
    assert "Aucune formulation en attente" in after_page.text

    db.expire_all()
    article = db.exec(select(Article).where(Article.slug == SLUG)).one()
    assert TITLE in article.questions.splitlines()
    revision = db.exec(
        select(ArticleRevision).where(
            ArticleRevision.article_id == article.id,
            ArticleRevision.number == article.revision,
        )
    ).one()
    assert revision.editor_id == college.referent.id and TITLE in revision.note
    assert search(db, TITLE, viewer=college.teacher).results[0].article.slug == SLUG
    # Accepted words are not proposed again (the article has them).
    again = ask(db, settings, college)
    reply(db, settings, college, again, f"/kb/{SLUG}")
    assert [p.status for p in proposals(db)] == ["accepted"]


def test_set_aside_is_for_good_and_other_departments_cannot_decide(
    client: TestClient, db: Session, settings: Settings, college: College
) -> None:
    publish(db, department="LET")
    question = ask(db, settings, college)
    answers.answer(
        db,
        actor=college.elearning,
        question_id=question,
        body=f"/kb/{SLUG}",
        data_dir=settings.data_dir,
        base_url=settings.base_url,
    )
    db.commit()
    [proposal] = proposals(db)
    # The SCI referent may not edit a LET article: the proposal is not theirs to decide.
    sign_in(client, college.referent)
    page = client.get("/kb/phrasings")
    assert "Aucune formulation en attente" in page.text
    refused = client.post(
        f"/kb/phrasings/{proposal.id}/accept", data={"csrf_token": csrf_from(page.text)}
    )
    assert refused.status_code == 403
    teacher = TestClient(client.app, follow_redirects=False)
    sign_in(teacher, college.teacher)
    assert teacher.get("/kb/phrasings").status_code == 403

    let_referent = TestClient(client.app, follow_redirects=False)
    sign_in(let_referent, college.other_referent)
    page = let_referent.get("/kb/phrasings")
    [reject] = html.select(page, "form[action$='/reject']")
    rejected = let_referent.post(reject["action"], data={"csrf_token": csrf_from(page.text)})
    assert rejected.status_code == 303
    assert [p.status for p in proposals(db)] == ["rejected"]
    # Set aside for good: the same words linked again are not proposed again.
    again = ask(db, settings, college)
    reply(db, settings, college, again, f"/kb/{SLUG}")
    [proposal] = proposals(db)
    assert (proposal.status, proposal.confirmations) == ("rejected", 1)


def test_this_solved_it_proposes_the_title_being_typed(
    client: TestClient, db: Session, college: College
) -> None:
    publish(db)
    sign_in(client, college.teacher)
    typed = "enregistrement du cours teams introuvable"
    page = client.get("/questions/new", params={"title": typed})
    # What the browser sends with the "solved" button: the fields of #solved-form, including
    # the inputs associated with it from the suggestions list.
    data = {
        field["name"]: field.get("value", "")
        for field in html.select(page, "#solved-form input, input[form=solved-form]")
    }
    assert data["typed"] == typed
    solved = client.post("/questions/solved", data={**data, "slug": SLUG})
    assert solved.status_code == 303
    [proposal] = proposals(db)
    assert (proposal.text, proposal.source) == (typed, "solved")
    # The same form sending "solved" twice counts once.
    client.post("/questions/solved", data={**data, "slug": SLUG})
    assert proposals(db)[0].confirmations == 1


def test_an_answer_turned_into_an_article_starts_with_the_question_as_phrasing(
    db: Session, settings: Settings, college: College
) -> None:
    question = ask(db, settings, college)
    reply(db, settings, college, question, "Dans OneDrive, dossier Enregistrements.")
    article = knowledge.draft_article(db, actor=college.referent, question_id=question)
    assert article.questions.splitlines() == [TITLE]
