"""The kind words wall: leave a note, read approved ones, moderate (e-learning team)."""

from __future__ import annotations

from fastapi import APIRouter, Form, Request
from fastapi.responses import RedirectResponse, Response

from hub import kind_words
from hub.errors import InvalidInput
from hub.i18n import N_
from hub.models import Role
from hub.web.deps import CurrentUser, SessionDep, SettingsDep, flash
from hub.web.rendering import render

router = APIRouter(prefix="/kind-words", tags=["kind words"])


def _wall(
    request: Request,
    db: SessionDep,
    user: CurrentUser,
    settings: SettingsDep,
    *,
    errors: dict[str, str] | None = None,
    form: dict[str, object] | None = None,
    status: int = 200,
) -> Response:
    words = kind_words.approved(db, actor=user)
    return render(
        request,
        "kind_words/index.html",
        {
            "words": words,
            "pending": kind_words.pending(db, actor=user) if user.role is Role.elearning else [],
            "mine": kind_words.mine(db, actor=user),
            "errors": errors or {},
            "form": form or {},
            "teams_enabled": bool(settings.teams_mode),
        },
        status=status,
    )


@router.get("", name="kind_words")
def wall(request: Request, db: SessionDep, user: CurrentUser, settings: SettingsDep) -> Response:
    return _wall(request, db, user, settings)


@router.post("", name="kind_words_leave")
def leave(
    request: Request,
    db: SessionDep,
    user: CurrentUser,
    settings: SettingsDep,
    body: str = Form(""),
    share_on_teams: bool = Form(False),
) -> Response:
    try:
        kind_words.leave(db, actor=user, body=body, share_on_teams=share_on_teams)
    except InvalidInput as exc:
        db.rollback()
        form = {"body": body, "share_on_teams": share_on_teams}
        return _wall(request, db, user, settings, errors=exc.fields, form=form, status=422)
    db.commit()
    flash(request, N_("Merci ! Votre mot sera affiché après relecture par l'équipe e-learning."))
    return RedirectResponse("/kind-words", status_code=303)


@router.post("/{word_id:int}/approve", name="kind_words_approve")
def approve(
    request: Request,
    db: SessionDep,
    user: CurrentUser,
    word_id: int,
    share_on_teams: bool = Form(False),
) -> Response:
    kind_words.moderate(db, word_id, actor=user, approve=True, share_on_teams=share_on_teams)
    db.commit()
    flash(request, N_("Mot approuvé."))
    return RedirectResponse("/kind-words", status_code=303)


@router.post("/{word_id:int}/reject", name="kind_words_reject")
def reject(request: Request, db: SessionDep, user: CurrentUser, word_id: int) -> Response:
    kind_words.moderate(db, word_id, actor=user, approve=False)
    db.commit()
    flash(request, N_("Mot refusé."))
    return RedirectResponse("/kind-words", status_code=303)
