"""Knowledge-base pages and JSON API: search, reading, checklists, feedback, authoring."""

from __future__ import annotations

import difflib
import re
from collections.abc import Sequence
from datetime import date
from functools import partial
from typing import Annotated
from urllib.parse import urlencode

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import RedirectResponse, Response
from pydantic import BaseModel
from sqlmodel import Session
from starlette.concurrency import run_in_threadpool

from hub.errors import Conflict, InvalidInput, PermissionDenied
from hub.exams.timetable import ExamView, search_exams
from hub.i18n import N_, Message
from hub.models import TEAM
from hub.people import list_departments, require_role
from hub.web.deps import CurrentUser, OptionalUser, SessionDep, flash
from hub.web.params import parse_id
from hub.web.rendering import from_htmx
from hub.web.rendering import render as render_page
from kb import checklists, phrasings
from kb import suggest as remembered_suggestions
from kb.articles import (
    AUTHORS,
    ArticleInput,
    ArticlePage,
    can_author,
    delete_article,
    get_article,
    list_articles,
    list_revisions,
    parse_questions,
    parse_tags,
    readable_audiences,
    reader_departments,
    restore_revision,
    save_article,
    set_status,
)
from kb.feedback import (
    SearchLogRecorder,
    SearchTrail,
    content_gaps,
    reader_role,
    record_feedback,
)
from kb.importer import normalize_body
from kb.markdown import checklist_items, render, render_inline
from kb.models import Article, Audience, Kind, Status
from kb.pages import pages as article_pages
from kb.pages import version as pages_version
from kb.search import SearchResponse, highlight_title, search
from kb.synonyms import (
    add_concept,
    add_synonym,
    delete_concept,
    delete_synonym,
    list_concepts,
    list_synonyms,
    update_concept,
)

router = APIRouter(tags=["knowledge base"])
api = APIRouter(prefix="/api/kb", tags=["knowledge base API"])

SUGGESTIONS = 6  # results in the header's search-as-you-type list
PAGE_RESULTS = 20
EXAM_HITS = 3  # exams offered first for a query shaped like a course code
# What students type for a course: letters then digits ("math101", "MATH 101", "STAT-210").
COURSE_CODE = re.compile(r"\s*[A-Za-z]{2,8}[\s-]?\d{2,5}[A-Za-z]?\s*")


# --- search ------------------------------------------------------------------------------


def _search_logs(request: Request) -> SearchLogRecorder:
    recorder: SearchLogRecorder = request.app.state.search_logs
    return recorder


def _search_and_log(
    request: Request,
    db: SessionDep,
    user: OptionalUser,
    q: str,
    limit: int,
    *,
    snippets: bool = True,
    filters: dict[str, str | None] | None = None,
    exams: Sequence[ExamView] = (),
) -> tuple[SearchResponse, str | None]:
    """Search, and record the search in memory (written in a batch: a GET writes nothing).
    Matches shown elsewhere (exams offered for a course code, staff articles behind a
    sign-in) keep the search off the content gaps."""
    response = search(db, q, viewer=user, limit=limit, snippets=snippets, **(filters or {}))
    log_ref = None
    if response.query:
        trail = _search_logs(request).record(
            query=response.query,
            result_count=len(response.results),
            found_elsewhere=response.restricted + len(exams),
            role=reader_role(user),
            previous=SearchTrail.from_session(request.session.get("search_log")),
        )
        request.session["search_log"] = trail.to_session()
        log_ref = trail.ref
    return response, log_ref


@router.get("/kb", name="kb_index")
def kb_index(
    request: Request,
    db: SessionDep,
    user: OptionalUser,
    q: str = "",
    kind: str | None = None,
    audience: str | None = None,
    tag: str | None = None,
    page: str = "1",
) -> Response:
    """Browse (a page of the list) and search; htmx asks for the results block only (active
    search)."""
    filters = {"kind": kind or None, "audience": audience or None, "tag": tag or None}
    response: SearchResponse | None = None
    log_ref = None
    listing: ArticlePage | None = None
    exams = exam_hits(db, q)
    if q.strip():
        response, log_ref = _search_and_log(
            request, db, user, q, PAGE_RESULTS, filters=filters, exams=exams
        )
    else:
        listing = list_articles(
            db,
            viewer=user,
            kind=filters["kind"],
            audience=filters["audience"],
            tag=filters["tag"],
            page=parse_id(page) if page.strip() else 1,
        )
    return render_page(
        request,
        "kb/index.html",
        {
            "q": q,
            "response": response,
            "exams": exams,
            "log_ref": log_ref,
            "listing": listing,
            "page_link": partial(_index_link, filters),
            "filters": filters,
            "kinds": list(Kind),
            # Only the audiences this reader may read: a filter that can only come back empty
            # would look like missing content.
            "audiences": [a for a in Audience if a in readable_audiences(user)],
            "highlight_title": highlight_title,
            "can_author": can_author(user),
        },
    )


def _index_link(filters: dict[str, str | None], page: int) -> str:
    """The address of one page of the KB index, with the same filters."""
    query = {name: value for name, value in filters.items() if value}
    return "/kb?" + urlencode({**query, "page": page})


@router.get("/kb/suggest", name="kb_suggest")
def kb_suggest(request: Request, db: SessionDep, user: OptionalUser, q: str = "") -> Response:
    """The header's search-as-you-type list (an htmx partial; a plain GET works too). A
    signed-in reader's list is remembered: their next keystrokes, and anyone's typing the same
    thing with the same reader filter, are answered from memory (kb/suggest.py)."""
    exams = exam_hits(db, q)
    response, log_ref = (
        _search_and_log(request, db, user, q, SUGGESTIONS, snippets=False, exams=exams)
        if q.strip()
        else (None, None)
    )
    # Remembered lists are articles only: a course code's list (its exams first) is not.
    if response is not None and user is not None and not exams:
        pages_version(db)  # the generation the remembered answers are checked against
        remembered_suggestions.remember(
            str(db.get_bind().engine.url), user, reader_departments(db, user), q, response
        )
    return render_page(
        request,
        "kb/_suggestions.html",
        {
            "q": q,
            "response": response,
            "exams": exams,
            "log_ref": log_ref,
            "highlight_title": highlight_title,
        },
    )


def exam_hits(db: Session, q: str) -> list[ExamView]:
    """For a query shaped like a course code, the matching exams (offered before the
    articles: students type their course code in the header search)."""
    if not COURSE_CODE.fullmatch(q):
        return []
    return search_exams(db, q, limit=EXAM_HITS)


# --- reading -----------------------------------------------------------------------------


@router.get("/kb/gaps", name="kb_gaps")
def kb_gaps(request: Request, db: SessionDep, user: CurrentUser, days: int = 30) -> Response:
    gaps, unhelpful = content_gaps(db, actor=user, days=max(1, min(days, 365)))
    return render_page(
        request, "kb/gaps.html", {"gaps": gaps, "unhelpful": unhelpful, "days": days}
    )


def _vocabulary_page(
    request: Request,
    db: Session,
    *,
    errors: dict[str, str] | None = None,
    form: dict[str, str] | None = None,
    status: int = 200,
) -> Response:
    """Synonyms and concepts, on one page: what search also looks for."""
    return render_page(
        request,
        "kb/synonyms.html",
        {
            "synonyms": list_synonyms(db),
            "concepts": list_concepts(db),
            "errors": errors or {},
            "form": form or {},
        },
        status=status,
    )


@router.get("/kb/synonyms", name="kb_synonyms")
def kb_synonyms(request: Request, db: SessionDep, user: CurrentUser) -> Response:
    require_role(user, *TEAM)
    return _vocabulary_page(request, db)


@router.post("/kb/synonyms", name="kb_synonyms_add")
def kb_synonyms_add(
    request: Request,
    db: SessionDep,
    user: CurrentUser,
    term: Annotated[str, Form()] = "",
    expansion: Annotated[str, Form()] = "",
) -> Response:
    try:
        add_synonym(db, term=term, expansion=expansion, actor=user)
    except (InvalidInput, Conflict) as exc:
        db.rollback()
        errors = getattr(exc, "fields", None) or {"term": exc.message}
        form = {"term": term, "expansion": expansion}
        return _vocabulary_page(request, db, errors=errors, form=form, status=422)
    db.commit()
    flash(request, "Synonyme ajouté.")
    return RedirectResponse("/kb/synonyms", status_code=303)


@router.post("/kb/synonyms/{synonym_id}/delete", name="kb_synonyms_delete")
def kb_synonyms_delete(
    request: Request, db: SessionDep, user: CurrentUser, synonym_id: int
) -> Response:
    delete_synonym(db, synonym_id=synonym_id, actor=user)
    db.commit()
    flash(request, "Synonyme supprimé.")
    return RedirectResponse("/kb/synonyms", status_code=303)


@router.post("/kb/concepts", name="kb_concepts_add")
def kb_concepts_add(
    request: Request,
    db: SessionDep,
    user: CurrentUser,
    members: Annotated[str, Form()] = "",
) -> Response:
    try:
        add_concept(db, members=members, actor=user)
    except (InvalidInput, Conflict) as exc:
        db.rollback()
        errors = {"members": getattr(exc, "fields", {}).get("members") or exc.message}
        form = {"members": members}
        return _vocabulary_page(request, db, errors=errors, form=form, status=422)
    db.commit()
    flash(request, N_("Concept ajouté : les prochaines recherches en tiennent compte."))
    return RedirectResponse(request.url_for("kb_synonyms").path + "#concepts", status_code=303)


@router.post("/kb/concepts/{concept_id}", name="kb_concepts_update")
def kb_concepts_update(
    request: Request,
    db: SessionDep,
    user: CurrentUser,
    concept_id: int,
    members: Annotated[str, Form()] = "",
) -> Response:
    try:
        update_concept(db, concept_id=concept_id, members=members, actor=user)
    except (InvalidInput, Conflict) as exc:
        db.rollback()
        message = getattr(exc, "fields", {}).get("members") or exc.message
        errors = {f"concept-{concept_id}": message}
        form = {f"concept-{concept_id}": members}
        return _vocabulary_page(request, db, errors=errors, form=form, status=422)
    db.commit()
    flash(request, N_("Concept enregistré."))
    return RedirectResponse(request.url_for("kb_synonyms").path + "#concepts", status_code=303)


@router.post("/kb/concepts/{concept_id}/delete", name="kb_concepts_delete")
def kb_concepts_delete(
    request: Request, db: SessionDep, user: CurrentUser, concept_id: int
) -> Response:
    delete_concept(db, concept_id=concept_id, actor=user)
    db.commit()
    flash(request, N_("Concept supprimé."))
    return RedirectResponse(request.url_for("kb_synonyms").path + "#concepts", status_code=303)


# --- phrasings learned from questions ------------------------------------------------------


@router.get("/kb/phrasings", name="kb_phrasings")
def kb_phrasings(request: Request, db: SessionDep, user: CurrentUser) -> Response:
    """The phrasings the hub learned, waiting for a referent or the team (one click each)."""
    waiting = phrasings.pending(db, actor=user)
    return render_page(request, "kb/phrasings.html", {"waiting": waiting})


@router.post("/kb/phrasings/{proposal_id}/accept", name="kb_phrasings_accept")
def kb_phrasings_accept(
    request: Request, db: SessionDep, user: CurrentUser, proposal_id: int
) -> Response:
    article = phrasings.accept(db, proposal_id=proposal_id, actor=user)
    db.commit()
    flash(
        request,
        Message(N_("Formulation ajoutée à « %(title)s »."), title=article.title),
    )
    return RedirectResponse(request.url_for("kb_phrasings").path, status_code=303)


@router.post("/kb/phrasings/{proposal_id}/reject", name="kb_phrasings_reject")
def kb_phrasings_reject(
    request: Request, db: SessionDep, user: CurrentUser, proposal_id: int
) -> Response:
    phrasings.reject(db, proposal_id=proposal_id, actor=user)
    db.commit()
    flash(request, N_("Formulation écartée : elle ne sera plus proposée pour cet article."))
    return RedirectResponse(request.url_for("kb_phrasings").path, status_code=303)


@router.get("/kb/new", name="kb_new")
def kb_new(request: Request, db: SessionDep, user: CurrentUser) -> Response:
    require_role(user, *AUTHORS)
    return _editor(request, db, form=None, errors={}, article=None)


@router.post("/kb/preview", name="kb_preview")
def kb_preview(request: Request, user: CurrentUser, body: Annotated[str, Form()] = "") -> Response:
    """The editor's live preview: the same Markdown renderer and sanitizer as the article."""
    require_role(user, *AUTHORS)
    return render_page(request, "kb/_preview.html", {"html": render(body)})


@router.get("/kb/{slug}", name="kb_article")
def kb_article(
    request: Request,
    db: SessionDep,
    user: OptionalUser,
    slug: str,
    from_search: str | None = None,
) -> Response:
    # Only the reader's own latest search gets the click (the reference comes from a link);
    # the next search is a new one.
    trail = SearchTrail.from_session(request.session.get("search_log"))
    if from_search and trail is not None and from_search == trail.ref:
        clicked = get_article(db, slug, viewer=user)
        _search_logs(request).click(ref=trail.ref, slug=clicked.slug)
        request.session.pop("search_log", None)

    def build() -> Response:
        article = get_article(db, slug, viewer=user)
        progress = None
        if article.kind is Kind.checklist:
            progress = checklists.progress(db, article=article, user=user)
        return render_page(
            request,
            "kb/article.html",
            {
                "article": article,
                "html": render(article.body),
                "progress": progress,
                "render_inline": render_inline,
                "can_edit": can_author(user),
                "tags": parse_tags(article.tags),
                "feedback_sent": request.query_params.get("merci") == "1",
                # A shared (cached) page carries no CSRF token: the form comes on its own.
                "lazy_form": user is None,
            },
        )

    # The same page for every anonymous reader: cached (kb/pages.py); a signed-in reader's
    # own page gets an ETag, kept private.
    return article_pages.page(request, partial(pages_version, db), build)


@router.get("/kb/{slug}/feedback", name="kb_feedback_form")
def kb_feedback_form(request: Request, db: SessionDep, user: OptionalUser, slug: str) -> Response:
    """The feedback form on its own: loaded by htmx under a cached article page, or a page
    of its own without JavaScript."""
    article = get_article(db, slug, viewer=user)
    # htmx (`HX-Target: feedback`) gets the form's block, a browser without JavaScript the page.
    return render_page(request, "kb/feedback.html", {"article": article, "feedback_sent": False})


@router.get("/kb/{slug}/print", name="kb_print")
def kb_print(request: Request, db: SessionDep, user: OptionalUser, slug: str) -> Response:
    article = get_article(db, slug, viewer=user)
    progress = (
        checklists.progress(db, article=article, user=user)
        if (article.kind is Kind.checklist)
        else None
    )
    return render_page(
        request,
        "kb/print.html",
        {
            "article": article,
            "html": render(article.body),
            "progress": progress,
            "render_inline": render_inline,
        },
    )


@router.post("/kb/{slug}/checklist/{item_key}", name="kb_tick")
def kb_tick(
    request: Request,
    db: SessionDep,
    user: CurrentUser,
    slug: str,
    item_key: str,
    ticked: Annotated[str, Form()] = "",
) -> Response:
    article = get_article(db, slug, viewer=user)
    progress = checklists.set_tick(
        db, article=article, user=user, item_key=item_key, ticked=ticked == "1"
    )
    db.commit()
    if from_htmx(request):
        return render_page(
            request,
            "kb/_checklist.html",
            {"article": article, "progress": progress, "render_inline": render_inline},
        )
    return RedirectResponse(f"/kb/{slug}#item-{item_key}", status_code=303)


@router.post("/kb/{slug}/checklist-reset", name="kb_tick_reset")
def kb_tick_reset(request: Request, db: SessionDep, user: CurrentUser, slug: str) -> Response:
    article = get_article(db, slug, viewer=user)
    checklists.reset(db, article=article, user=user)
    db.commit()
    flash(request, "Check-list remise à zéro.")
    return RedirectResponse(f"/kb/{slug}", status_code=303)


@router.post("/kb/{slug}/feedback", name="kb_feedback")
def kb_feedback(
    request: Request,
    db: SessionDep,
    user: OptionalUser,
    slug: str,
    helpful: Annotated[str, Form()],
    comment: Annotated[str, Form()] = "",
) -> Response:
    article = get_article(db, slug, viewer=user)
    record_feedback(db, article=article, user=user, helpful=helpful == "1", comment=comment)
    db.commit()
    if from_htmx(request):
        return render_page(
            request, "kb/_feedback.html", {"article": article, "feedback_sent": True}
        )
    return RedirectResponse(f"/kb/{slug}?merci=1#feedback", status_code=303)


# --- authoring ---------------------------------------------------------------------------


def _editor(
    request: Request,
    db: SessionDep,
    *,
    form: dict[str, str] | None,
    errors: dict[str, str],
    article: Article | None,
    status: int = 200,
) -> Response:
    if form is None and article is not None:
        departments = {d.id: d.code for d in list_departments(db)}
        form = {
            "slug": article.slug,
            "title": article.title,
            "kind": article.kind.value,
            "audience": article.audience.value,
            "summary": article.summary,
            "body": article.body,
            "tags": article.tags,
            "questions": article.questions,
            "department": departments.get(article.department_id, "")
            if article.department_id
            else "",
            "verified_on": article.verified_on.isoformat() if article.verified_on else "",
            "video_url": article.video_url or "",
            "status": article.status.value,
        }
    return render_page(
        request,
        "kb/edit.html",
        {
            "article": article,
            "form": form or {"kind": "tutorial", "audience": "teacher", "status": "draft"},
            "errors": errors,
            "kinds": list(Kind),
            "audiences": list(Audience),
            "statuses": list(Status),
            "departments": list_departments(db),
            "preview": render(form["body"]) if form and form.get("body") else None,
        },
        status=status,
    )


def _input_from_form(form: dict[str, str]) -> tuple[ArticleInput, dict[str, str]]:
    errors: dict[str, str] = {}
    verified = None
    if form.get("verified_on"):
        try:
            verified = date.fromisoformat(form["verified_on"])
        except ValueError:
            errors["verified_on"] = "Date invalide (AAAA-MM-JJ)."
    data = ArticleInput(
        slug=form.get("slug", "").strip(),
        title=form.get("title", ""),
        kind=form.get("kind", ""),
        audience=form.get("audience", ""),
        body=normalize_body(form.get("body", "")),
        summary=form.get("summary", ""),
        tags=parse_tags(form.get("tags", "")),
        questions=parse_questions(form.get("questions", "")),
        department=form.get("department") or None,
        status=form.get("status", "draft"),
        verified_on=verified,
        video_url=form.get("video_url") or None,
    )
    return data, errors


async def _form_dict(request: Request) -> dict[str, str]:
    form = await request.form()
    return {key: str(value) for key, value in form.items() if isinstance(value, str)}


@router.post("/kb/new", name="kb_create")
async def kb_create(request: Request, db: SessionDep, user: CurrentUser) -> Response:
    form = await _form_dict(request)
    return await run_in_threadpool(_save, request, db, user, form, article=None)


@router.get("/kb/{slug}/edit", name="kb_edit")
def kb_edit(request: Request, db: SessionDep, user: CurrentUser, slug: str) -> Response:
    require_role(user, *AUTHORS)
    article = get_article(db, slug, viewer=user)
    return _editor(request, db, form=None, errors={}, article=article)


@router.post("/kb/{slug}/edit", name="kb_update")
async def kb_update(request: Request, db: SessionDep, user: CurrentUser, slug: str) -> Response:
    form = await _form_dict(request)
    form["slug"] = slug  # the address of an existing article does not change

    def update() -> Response:  # one thread hop: the session's connection is taken once
        article = get_article(db, slug, viewer=user)
        return _save(request, db, user, form, article=article)

    return await run_in_threadpool(update)


def _save(
    request: Request,
    db: SessionDep,
    user: CurrentUser,
    form: dict[str, str],
    *,
    article: Article | None,
) -> Response:
    require_role(user, *AUTHORS)
    data, errors = _input_from_form(form)
    if not errors:
        try:
            saved, outcome = save_article(
                db, data, actor=user, note=form.get("note", ""), create_only=article is None
            )
        except InvalidInput as exc:
            errors = exc.fields or {"body": exc.message}
        except Conflict as exc:
            errors = {"slug": exc.message}
        except PermissionDenied as exc:
            errors = {"department": exc.message}
    if errors:
        db.rollback()
        return _editor(request, db, form=form, errors=errors, article=article, status=422)
    db.commit()
    flash(request, N_("Article enregistré.") if outcome != "unchanged" else N_("Aucun changement."))
    return RedirectResponse(f"/kb/{saved.slug}", status_code=303)


@router.post("/kb/{slug}/status", name="kb_status")
def kb_status(
    request: Request, db: SessionDep, user: CurrentUser, slug: str, status: Annotated[str, Form()]
) -> Response:
    if status not in Status.__members__:
        raise InvalidInput("Statut inconnu.")
    set_status(db, slug=slug, status=Status(status), actor=user)
    db.commit()
    messages = {
        "published": N_("Article publié."),
        "archived": N_("Article archivé."),
        "draft": N_("Article repassé en brouillon."),
    }
    flash(request, messages[status])
    return RedirectResponse(f"/kb/{slug}", status_code=303)


@router.post("/kb/{slug}/delete", name="kb_delete")
def kb_delete(request: Request, db: SessionDep, user: CurrentUser, slug: str) -> Response:
    delete_article(db, slug=slug, actor=user)
    db.commit()
    flash(request, "Article supprimé.")
    return RedirectResponse("/kb", status_code=303)


@router.get("/kb/{slug}/revisions", name="kb_revisions")
def kb_revisions(request: Request, db: SessionDep, user: CurrentUser, slug: str) -> Response:
    article = get_article(db, slug, viewer=user)
    revisions = list_revisions(db, slug=slug, actor=user)
    diffs = {}
    for newer, older in zip(revisions, revisions[1:], strict=False):
        diffs[newer[0].number] = "\n".join(
            difflib.unified_diff(
                (older[0].title + "\n\n" + older[0].body).splitlines(),
                (newer[0].title + "\n\n" + newer[0].body).splitlines(),
                fromfile=f"révision {older[0].number}",
                tofile=f"révision {newer[0].number}",
                lineterm="",
                n=1,
            )
        )
    return render_page(
        request, "kb/revisions.html", {"article": article, "revisions": revisions, "diffs": diffs}
    )


@router.post("/kb/{slug}/revisions/{number}/restore", name="kb_restore")
def kb_restore(
    request: Request, db: SessionDep, user: CurrentUser, slug: str, number: int
) -> Response:
    restore_revision(db, slug=slug, number=number, actor=user)
    db.commit()
    flash(request, "Révision restaurée.")
    return RedirectResponse(f"/kb/{slug}", status_code=303)


# --- JSON API ----------------------------------------------------------------------------


class SearchResultPublic(BaseModel):
    slug: str
    title: str
    kind: Kind
    audience: Audience
    snippet: str
    score: float


class SearchPublic(BaseModel):
    query: str
    results: list[SearchResultPublic]


class ArticlePublic(BaseModel):
    slug: str
    title: str
    kind: Kind
    audience: Audience
    summary: str
    tags: list[str]
    questions: list[str]  # the questions the article answers, in readers' words
    status: Status
    verified_on: date | None
    video_url: str | None
    body_markdown: str
    body_html: str
    checklist: list[str]
    updated_at: str
    url: str


@api.get("/search", response_model=SearchPublic)
def api_search(
    request: Request,
    db: SessionDep,
    user: OptionalUser,
    q: Annotated[str, Query(max_length=200)] = "",
    limit: Annotated[int, Query(ge=1, le=50)] = 10,
    kind: Kind | None = None,
    audience: Audience | None = None,
    tag: str | None = None,
) -> SearchPublic:
    """Public articles for anonymous callers; a token shows what its owner may read."""
    response = search(
        db,
        q,
        viewer=user,
        limit=limit,
        kind=kind.value if kind else None,
        audience=audience.value if audience else None,
        tag=tag,
    )
    if response.query:
        _search_logs(request).record(
            query=response.query,
            result_count=len(response.results),
            role=reader_role(user),
            found_elsewhere=response.restricted,
        )
    return SearchPublic(
        query=response.query,
        results=[
            SearchResultPublic(
                slug=r.article.slug,
                title=r.article.title,
                kind=r.article.kind,
                audience=r.article.audience,
                snippet=str(r.snippet),
                score=r.score,
            )
            for r in response.results
        ],
    )


@api.get("/articles/{slug}", response_model=ArticlePublic)
def api_article(request: Request, db: SessionDep, user: OptionalUser, slug: str) -> ArticlePublic:
    article = get_article(db, slug, viewer=user)
    items = (
        [item.text for item in checklist_items(article.body)]
        if (article.kind is Kind.checklist)
        else []
    )
    return ArticlePublic(
        slug=article.slug,
        title=article.title,
        kind=article.kind,
        audience=article.audience,
        summary=article.summary,
        tags=parse_tags(article.tags),
        questions=parse_questions(article.questions),
        status=article.status,
        verified_on=article.verified_on,
        video_url=article.video_url,
        body_markdown=article.body,
        body_html=str(render(article.body)),
        checklist=items,
        updated_at=article.updated_at.isoformat(),
        url=str(request.url_for("kb_article", slug=article.slug)),
    )
