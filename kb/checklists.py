"""Checklists: items ticked per user, progress, reset."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import delete
from sqlmodel import Session, col, select

from hub.errors import InvalidInput, NotFound
from hub.i18n import N_
from hub.models import User, id_of
from kb.markdown import ChecklistItem, checklist_items
from kb.models import Article, ChecklistTick, Kind


@dataclass
class Progress:
    items: list[ChecklistItem]
    ticked: set[str]

    @property
    def done(self) -> int:
        return sum(1 for item in self.items if item.key in self.ticked)

    @property
    def total(self) -> int:
        return len(self.items)

    @property
    def percent(self) -> int:
        return round(100 * self.done / self.total) if self.total else 0


def _require_checklist(article: Article) -> list[ChecklistItem]:
    if article.kind is not Kind.checklist:
        raise NotFound(N_("Cet article n'est pas une check-list."))
    return checklist_items(article.body)


def progress(session: Session, *, article: Article, user: User | None) -> Progress:
    items = _require_checklist(article)
    ticked: set[str] = set()
    if user is not None:
        ticked = set(
            session.exec(
                select(ChecklistTick.item_key).where(
                    ChecklistTick.user_id == user.id, ChecklistTick.article_id == article.id
                )
            ).all()
        )
    return Progress(items=items, ticked=ticked)


def set_tick(
    session: Session, *, article: Article, user: User, item_key: str, ticked: bool
) -> Progress:
    """Tick or untick one item (idempotent, so a double click or a retry is harmless)."""
    items = _require_checklist(article)
    if item_key not in {item.key for item in items}:
        raise InvalidInput(N_("Cet élément ne fait plus partie de la check-list."))
    existing = session.get(ChecklistTick, (id_of(user), id_of(article), item_key))
    if ticked and existing is None:
        session.add(
            ChecklistTick(user_id=id_of(user), article_id=id_of(article), item_key=item_key)
        )
    elif not ticked and existing is not None:
        session.delete(existing)
    session.flush()
    return progress(session, article=article, user=user)


def reset(session: Session, *, article: Article, user: User) -> None:
    _require_checklist(article)
    session.execute(
        delete(ChecklistTick).where(
            col(ChecklistTick.user_id) == user.id, col(ChecklistTick.article_id) == article.id
        )
    )
    session.flush()
