"""Articles: who may read and write them, saving with revisions, publishing, restoring."""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from datetime import date

from sqlalchemy import ColumnElement, func, or_
from sqlalchemy import delete as sql_delete
from sqlmodel import Session, col, select

from hub.errors import Conflict, InvalidInput, NotFound, NotSignedIn, PermissionDenied
from hub.i18n import N_, Message
from hub.models import TEAM, Department, Role, User, id_of, utcnow
from hub.people import get_department, require_role, served_department_ids
from kb.analyzer import analyzed
from kb.markdown import plain_text
from kb.models import Article, ArticleRevision, Audience, Kind, Status

SLUG = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*$")
CONTROL_CHARACTERS = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
# Pages under /kb/ that an article's address must not hide.
RESERVED_SLUGS = frozenset(
    {"new", "gaps", "synonyms", "concepts", "phrasings", "suggest", "preview"}
)
MAX_BODY_CHARACTERS = 100_000  # a long tutorial is ~10,000; this bounds accidental pastes
MAX_TAGS = 20
MAX_QUESTIONS = 30  # phrasings of the questions an article answers
MAX_QUESTION_LENGTH = 160

# Which audiences each role reads: everyone sees `everyone`; staff also see what students see.
READABLE_AUDIENCES: dict[Role | None, frozenset[Audience]] = {
    None: frozenset({Audience.everyone, Audience.student}),
    Role.student: frozenset({Audience.everyone, Audience.student}),
    Role.teacher: frozenset({Audience.everyone, Audience.student, Audience.teacher}),
    Role.referent: frozenset(
        {Audience.everyone, Audience.student, Audience.teacher, Audience.referent}
    ),
    Role.elearning: frozenset(Audience),
}
PUBLIC_AUDIENCES = READABLE_AUDIENCES[None]  # readable without signing in


def readable_audiences(user: User | None) -> frozenset[Audience]:
    """The audiences whose articles this reader may read (None: not signed in)."""
    return READABLE_AUDIENCES[user.role if user else None]


AUTHORS = (Role.referent, Role.elearning)


@dataclass
class ArticleInput:
    """What an author submits (form, API or Markdown file); validated by `validate`."""

    slug: str
    title: str
    kind: str
    audience: str
    body: str = ""
    summary: str = ""
    tags: list[str] = field(default_factory=list)
    # Questions the article answers, in readers' words (searched with a high weight).
    questions: list[str] = field(default_factory=list)
    department: str | None = None  # department code
    status: str = Status.draft.value
    verified_on: date | None = None
    video_url: str | None = None


def parse_tags(text: str) -> list[str]:
    return [tag.strip() for tag in text.split(",") if tag.strip()]


def parse_questions(text: str) -> list[str]:
    """One question per line, as typed; blank lines and repeats dropped."""
    seen: set[str] = set()
    questions = []
    for line in text.splitlines():
        question = " ".join(line.split())
        if question and question.casefold() not in seen:
            seen.add(question.casefold())
            questions.append(question)
    return questions


def validate(data: ArticleInput) -> dict[str, str]:
    """Field errors of an article, in French, keyed by field name."""
    errors: dict[str, str] = {}
    if data.slug in RESERVED_SLUGS:
        errors["slug"] = N_("Cette adresse est réservée par le hub ; choisissez-en une autre.")
    elif not SLUG.match(data.slug) or len(data.slug) > 120:
        errors["slug"] = N_("Minuscules, chiffres et tirets (ex. capsule-video-enregistrer).")
    if not data.title.strip() or len(data.title) > 200:
        errors["title"] = N_("Le titre est obligatoire (200 caractères au plus).")
    if data.kind not in Kind.__members__:
        errors["kind"] = N_("Type inconnu : tutorial, checklist, video ou guide.")
    if data.audience not in Audience.__members__:
        errors["audience"] = N_("Public inconnu : everyone, student, teacher, referent, elearning.")
    if data.status not in Status.__members__:
        errors["status"] = N_("Statut inconnu : draft, published ou archived.")
    if len(data.summary) > 400:
        errors["summary"] = N_("Le résumé fait 400 caractères au plus.")
    if len(data.body) > MAX_BODY_CHARACTERS:
        errors["body"] = N_("Le texte est trop long.")
    if len(data.tags) > MAX_TAGS or any(len(tag) > 40 for tag in data.tags):
        errors["tags"] = N_("20 mots-clés au plus, de 40 caractères au plus.")
    if data.video_url and not re.match(r"^https?://\S+$", data.video_url):
        errors["video_url"] = N_("Adresse de vidéo invalide (http:// ou https://).")
    if data.kind == Kind.checklist.value and "[ ]" not in data.body:
        errors["body"] = N_("Une check-list contient des éléments « - [ ] ... ».")
    for name in ("title", "summary", "body", "slug"):
        value = getattr(data, name)
        if CONTROL_CHARACTERS.search(value):
            errors[name] = N_("Caractères de contrôle interdits.")
    if any(CONTROL_CHARACTERS.search(tag) or "," in tag for tag in data.tags):
        errors["tags"] = N_("Caractères de contrôle interdits.")
    if len(data.questions) > MAX_QUESTIONS or any(
        len(question) > MAX_QUESTION_LENGTH for question in data.questions
    ):
        errors["questions"] = N_("30 questions au plus, de 160 caractères au plus chacune.")
    if any(CONTROL_CHARACTERS.search(q) or "\n" in q for q in data.questions):
        errors["questions"] = N_("Caractères de contrôle interdits.")
    return errors


# --- who may read ------------------------------------------------------------------------


def reader_departments(session: Session, user: User | None) -> set[int] | None:
    """Departments whose own articles a reader sees; None means all of them."""
    if user is None:
        return set()
    if user.role is Role.elearning:
        return None
    if user.role is Role.referent:
        return served_department_ids(session, user)
    return {user.department_id} if user.department_id else set()


def readable_filter(session: Session, user: User | None) -> list[ColumnElement[bool]]:
    """SQL conditions selecting the published articles this reader may see."""
    conditions: list[ColumnElement[bool]] = [
        col(Article.status) == Status.published,
        col(Article.audience).in_(readable_audiences(user)),
    ]
    departments = reader_departments(session, user)
    if departments is not None:
        conditions.append(
            or_(col(Article.department_id).is_(None), col(Article.department_id).in_(departments))
        )
    return conditions


def readable_by(article: Article, user: User | None, departments: set[int] | None) -> bool:
    """`readable_filter` in Python, for rows already read by id (`departments` is
    `reader_departments(session, user)`). Reason: with the reader's conditions in SQL, SQLite
    picked the status index over the primary key and scanned every published article to
    return six (2-3 ms of each search-as-you-type request at 5,000 articles)."""
    return (
        article.status is Status.published
        and article.audience in readable_audiences(user)
        and (
            departments is None
            or article.department_id is None
            or article.department_id in departments
        )
    )


def can_author(user: User | None) -> bool:
    return user is not None and user.is_active and user.role in AUTHORS


def _check_author_scope(session: Session, actor: User, department_id: int | None) -> None:
    """Referents write articles for everyone or for the departments they serve."""
    require_role(actor, *AUTHORS)
    if actor.role is Role.referent and department_id is not None:
        if department_id not in served_department_ids(session, actor):
            raise PermissionDenied(N_("Vous ne servez pas ce département."))


def get_article(session: Session, slug: str, *, viewer: User | None) -> Article:
    """An article this viewer may read; authors also see drafts and archived ones."""
    article = session.exec(select(Article).where(Article.slug == slug)).first()
    if article is None:
        raise NotFound(N_("Article introuvable."))
    if can_author(viewer) and viewer is not None:
        if (
            viewer.role is Role.elearning
            or article.department_id is None
            or (article.department_id in served_department_ids(session, viewer))
        ):
            return article
    # The row is read already: the reader's conditions checked here, not by a second query.
    if not readable_by(article, viewer, reader_departments(session, viewer)):
        if viewer is None and article.status is Status.published:
            raise NotSignedIn(N_("Connectez-vous pour lire cet article."))
        raise NotFound(N_("Article introuvable."))
    return article


INDEX_PAGE_SIZE = 50  # articles per page of the KB index


@dataclass(frozen=True)
class ArticleListing:
    """What the KB index shows of an article (its body is never read for the list)."""

    slug: str
    title: str
    kind: Kind
    summary: str


@dataclass(frozen=True)
class ArticlePage:
    items: list[ArticleListing]
    total: int  # articles matching the filters, all pages
    page: int  # 1-based, within 1..pages
    pages: int


def list_articles(
    session: Session,
    *,
    viewer: User | None,
    kind: str | None = None,
    audience: str | None = None,
    tag: str | None = None,
    include_unpublished: bool = False,
    page: int = 1,
    per_page: int = INDEX_PAGE_SIZE,
) -> ArticlePage:
    """One page of the articles this viewer may read, by title, filtered and paginated in
    SQL, reading only the listed columns: 20,000 full articles read for the index took
    549 ms and 1.2 MB. A page past the last one shows the last one (a shared link still
    works after deletions)."""
    if include_unpublished:
        require_role(viewer, *AUTHORS)
        conditions: list[ColumnElement[bool]] = []
    else:
        conditions = readable_filter(session, viewer)
    if kind and kind in Kind.__members__:
        conditions.append(col(Article.kind) == Kind(kind))
    if audience and audience in Audience.__members__:
        conditions.append(col(Article.audience) == Audience(audience))
    if tag:
        conditions.append(col(Article.search_tags).contains(analyzed(tag)))
    total = session.exec(select(func.count()).select_from(Article).where(*conditions)).one()
    pages = max(1, math.ceil(total / per_page))
    page = min(max(page, 1), pages)
    rows = session.exec(
        select(col(Article.slug), col(Article.title), col(Article.kind), col(Article.summary))
        .where(*conditions)
        .order_by(col(Article.title), col(Article.id))
        .offset((page - 1) * per_page)
        .limit(per_page)
    ).all()
    items = [ArticleListing(slug, title, kind_, summary) for slug, title, kind_, summary in rows]
    return ArticlePage(items=items, total=total, page=page, pages=pages)


# --- writing -----------------------------------------------------------------------------


def _index(article: Article) -> None:
    """Fill the analyzed columns the full-text index reads."""
    article.search_title = analyzed(article.title)
    article.search_tags = analyzed(" ".join(parse_tags(article.tags)))
    article.search_questions = analyzed(" ".join(parse_questions(article.questions)))
    article.search_body = analyzed(article.summary + " " + plain_text(article.body))


def _snapshot(article: Article, *, editor: User | None, note: str) -> ArticleRevision:
    return ArticleRevision(
        article_id=id_of(article),
        number=article.revision,
        title=article.title,
        kind=article.kind,
        audience=article.audience,
        department_id=article.department_id,
        summary=article.summary,
        body=article.body,
        tags=article.tags,
        questions=article.questions,
        status=article.status,
        verified_on=article.verified_on,
        video_url=article.video_url,
        note=note[:300],
        editor_id=editor.id if editor else None,
    )


CONTENT_FIELDS = (
    "title",
    "kind",
    "audience",
    "department_id",
    "summary",
    "body",
    "tags",
    "questions",
    "status",
    "verified_on",
    "video_url",
)


def save_article(
    session: Session,
    data: ArticleInput,
    *,
    actor: User | None,
    note: str = "",
    create_only: bool = False,
) -> tuple[Article, str]:
    """Create or update an article by slug; returns it and "created", "updated" or
    "unchanged". Every real change makes a revision. `actor=None` is the server operator
    (`hub kb import`)."""
    errors = validate(data)
    department: Department | None = None
    if data.department:
        try:
            department = get_department(session, data.department)
        except NotFound:
            errors["department"] = N_("Département inconnu.")
    if errors:
        raise InvalidInput(N_("Article invalide."), errors)
    department_id = department.id if department else None
    if actor is not None:
        _check_author_scope(session, actor, department_id)

    values = {
        "title": data.title.strip(),
        "kind": Kind(data.kind),
        "audience": Audience(data.audience),
        "department_id": department_id,
        "summary": data.summary.strip(),
        "body": data.body.replace("\r\n", "\n"),
        "tags": ", ".join(data.tags),
        "questions": "\n".join(parse_questions("\n".join(data.questions))),
        "status": Status(data.status),
        "verified_on": data.verified_on,
        "video_url": data.video_url or None,
    }
    article = session.exec(select(Article).where(Article.slug == data.slug)).first()
    if article is not None and create_only:
        raise Conflict(Message(N_("L'adresse %(slug)s est déjà prise."), slug=data.slug))
    if article is None:
        article = Article.model_validate({"slug": data.slug, "revision": 1, **values})
        outcome = "created"
    else:
        if actor is not None:
            _check_author_scope(session, actor, article.department_id)
        if all(getattr(article, name) == value for name, value in values.items()):
            return article, "unchanged"
        for name, value in values.items():
            setattr(article, name, value)
        article.revision += 1
        outcome = "updated"
    article.updated_at = utcnow()
    article.updated_by_id = actor.id if actor else None
    _index(article)
    session.add(article)
    session.flush()
    session.add(_snapshot(article, editor=actor, note=note or outcome))
    session.flush()
    return article, outcome


def set_status(session: Session, *, slug: str, status: Status, actor: User) -> Article:
    """Publish, archive or return to draft; a revision records who did it."""
    article = get_article(session, slug, viewer=actor)
    _check_author_scope(session, actor, article.department_id)
    if article.status is status:
        return article
    article.status = status
    _revise(session, article, actor=actor, note=f"status: {status.value}")
    return article


def add_question(session: Session, *, article: Article, question: str, actor: User) -> bool:
    """Add one phrasing to the article's questions (a revision records it); False when the
    article already has it."""
    _check_author_scope(session, actor, article.department_id)
    existing = parse_questions(article.questions)
    updated = parse_questions("\n".join([*existing, question]))
    if len(updated) == len(existing):
        return False
    if len(updated) > MAX_QUESTIONS:
        raise InvalidInput(
            N_("Cet article a déjà 30 formulations : retirez-en une dans l'éditeur d'abord."),
            {"questions": N_("30 formulations au plus.")},
        )
    article.questions = "\n".join(updated)
    _index(article)
    _revise(session, article, actor=actor, note=f"question: {question}")
    return True


def _revise(session: Session, article: Article, *, actor: User, note: str) -> None:
    article.revision += 1
    article.updated_at = utcnow()
    article.updated_by_id = actor.id
    session.add(article)
    session.flush()
    session.add(_snapshot(article, editor=actor, note=note))
    session.flush()


def delete_article(session: Session, *, slug: str, actor: User) -> None:
    """Delete for good (the e-learning team only; archiving is the usual way)."""
    require_role(actor, *TEAM)
    article = get_article(session, slug, viewer=actor)
    session.execute(
        sql_delete(ArticleRevision).where(col(ArticleRevision.article_id) == article.id)
    )
    session.delete(article)
    session.flush()


def list_revisions(
    session: Session, *, slug: str, actor: User
) -> list[tuple[ArticleRevision, User | None]]:
    article = get_article(session, slug, viewer=actor)
    _check_author_scope(session, actor, article.department_id)
    rows = session.exec(
        select(ArticleRevision, User)
        .join(User, col(User.id) == col(ArticleRevision.editor_id), isouter=True)
        .where(ArticleRevision.article_id == article.id)
        .order_by(col(ArticleRevision.number).desc())
    ).all()
    return [(revision, editor) for revision, editor in rows]


def restore_revision(session: Session, *, slug: str, number: int, actor: User) -> Article:
    """Bring back an old revision's content as a new revision (history is never rewritten)."""
    article = get_article(session, slug, viewer=actor)
    _check_author_scope(session, actor, article.department_id)
    old = session.exec(
        select(ArticleRevision).where(
            ArticleRevision.article_id == article.id, ArticleRevision.number == number
        )
    ).first()
    if old is None:
        raise NotFound(N_("Révision introuvable."))
    if all(getattr(article, name) == getattr(old, name) for name in CONTENT_FIELDS):
        return article
    for name in CONTENT_FIELDS:
        setattr(article, name, getattr(old, name))
    article.revision += 1
    article.updated_at = utcnow()
    article.updated_by_id = actor.id
    _index(article)
    session.add(article)
    session.flush()
    session.add(_snapshot(article, editor=actor, note=f"restored revision {number}"))
    session.flush()
    return article
