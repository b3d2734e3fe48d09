"""Canned answers: reusable replies, each optionally pointing to a KB article; referents
edit those of their departments (and shared ones), the e-learning team all of them."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import or_
from sqlmodel import Session, col, select

from hub.errors import InvalidInput, NotFound, PermissionDenied
from hub.i18n import N_
from hub.models import SUPPORT, Role, User, utcnow
from hub.people import get_department, require_role, served_department_ids
from hub.questions.models import CannedAnswer
from hub.questions.notify import absolute
from kb.models import Article


def list_canned(
    session: Session, *, actor: User | None, department_id: int | None = None
) -> Sequence[CannedAnswer]:
    """Shared answers and those of the actor's departments (or of one department)."""
    actor = require_role(actor, *SUPPORT)
    query = select(CannedAnswer)
    if actor.role is not Role.elearning or department_id is not None:
        ids = (
            {department_id} if department_id is not None else served_department_ids(session, actor)
        )
        if actor.role is not Role.elearning:
            ids &= served_department_ids(session, actor)
        query = query.where(
            or_(col(CannedAnswer.department_id).is_(None), col(CannedAnswer.department_id).in_(ids))
        )
    return session.exec(query.order_by(col(CannedAnswer.title))).all()


def get_canned(session: Session, *, actor: User | None, canned_id: int) -> CannedAnswer:
    actor = require_role(actor, *SUPPORT)
    canned = session.get(CannedAnswer, canned_id)
    if canned is None or (
        actor.role is not Role.elearning
        and canned.department_id is not None
        and canned.department_id not in served_department_ids(session, actor)
    ):
        raise NotFound(N_("Réponse type introuvable."))
    return canned


def save_canned(
    session: Session,
    *,
    actor: User | None,
    canned_id: int | None,
    title: str,
    body: str,
    article_slug: str = "",
    department: str = "",
) -> CannedAnswer:
    actor = require_role(actor, *SUPPORT)
    title, body, article_slug = " ".join(title.split()), body.strip(), article_slug.strip()
    errors: dict[str, str] = {}
    if not title or len(title) > 120:
        errors["title"] = N_("Un titre de 120 caractères au plus.")
    if not body or len(body) > 5000:
        errors["body"] = N_("Le texte est obligatoire (5000 caractères au plus).")
    if (
        article_slug
        and session.exec(select(Article.id).where(Article.slug == article_slug)).first() is None
    ):
        errors["article_slug"] = N_("Aucun article à cette adresse.")
    department_id = None
    if department:
        try:
            department_id = get_department(session, department).id
        except NotFound:
            errors["department"] = N_("Département inconnu.")
    if errors:
        raise InvalidInput(N_("Réponse type invalide."), errors)
    if (
        actor.role is not Role.elearning
        and department_id is not None
        and department_id not in served_department_ids(session, actor)
    ):
        raise PermissionDenied(N_("Vous ne servez pas ce département."))
    canned = (
        get_canned(session, actor=actor, canned_id=canned_id)
        if canned_id is not None
        else CannedAnswer(title=title, body=body)
    )
    canned.title, canned.body = title, body
    canned.article_slug = article_slug or None
    canned.department_id = department_id
    canned.updated_by_id = actor.id
    canned.updated_at = utcnow()
    session.add(canned)
    session.flush()
    return canned


def delete_canned(session: Session, *, actor: User | None, canned_id: int) -> None:
    canned = get_canned(session, actor=actor, canned_id=canned_id)
    session.delete(canned)
    session.flush()


def canned_text(canned: CannedAnswer, *, base_url: str) -> str:
    """The text put in the answer box: the body, then the article's link."""
    if canned.article_slug:
        return f"{canned.body}\n\n{absolute(base_url, '/kb/' + canned.article_slug)}"
    return canned.body
