"""The signed-in user's own page: language, password, API tokens."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import RedirectResponse, Response

from hub.errors import InvalidInput
from hub.i18n import LOCALES, N_
from hub.passwords import check_password_strength, hash_password, verify_password
from hub.tokens import create_token, list_tokens, revoke_token
from hub.web.deps import CurrentUser, SessionDep, flash
from hub.web.rendering import render
from hub.web.sessions import start_session

router = APIRouter(prefix="/account", tags=["account"])


def _page(request: Request, db: SessionDep, user: CurrentUser, **extra: object) -> Response:
    status = 422 if extra.get("errors") else 200
    return render(
        request,
        "account/index.html",
        {"tokens": list_tokens(db, user=user), "errors": {}, **extra},
        status=status,
    )


@router.get("", name="account")
def account(request: Request, db: SessionDep, user: CurrentUser) -> Response:
    return _page(request, db, user)


@router.post("/language", name="account_language")
def set_language(
    request: Request, db: SessionDep, user: CurrentUser, locale: Annotated[str, Form()]
) -> Response:
    if locale not in LOCALES:
        return _page(request, db, user, errors={"locale": N_("Langue inconnue.")})
    user.locale = locale
    request.session["lang"] = locale
    db.add(user)
    db.commit()
    flash(request, N_("Langue enregistrée : elle vous suivra à chaque connexion."))
    return RedirectResponse("/account", status_code=303)


@router.post("/password", name="account_password")
def change_password(
    request: Request,
    db: SessionDep,
    user: CurrentUser,
    current: Annotated[str, Form()] = "",
    new: Annotated[str, Form()] = "",
) -> Response:
    if user.password_hash and not verify_password(user.password_hash, current):
        return _page(request, db, user, errors={"current": N_("Mot de passe actuel incorrect.")})
    try:
        check_password_strength(new)
    except InvalidInput as exc:
        return _page(request, db, user, errors={"new": exc.fields.get("password", exc.message)})
    user.password_hash = hash_password(new)
    user.session_version += 1  # signs out every other session of this account
    db.add(user)
    db.commit()
    assert user.id is not None
    start_session(request.session, user_id=user.id, version=user.session_version)
    flash(request, "Mot de passe modifié. Vos autres sessions ont été fermées.")
    return RedirectResponse("/account", status_code=303)


@router.post("/tokens", name="account_token_create")
def create_api_token(
    request: Request, db: SessionDep, user: CurrentUser, name: Annotated[str, Form()] = "api"
) -> Response:
    try:
        _token, secret = create_token(db, user=user, name=name)
    except InvalidInput as exc:
        return _page(request, db, user, errors={"token_name": exc.fields.get("name", exc.message)})
    db.commit()
    # Shown once, on this response only: never stored in the session or the database.
    return _page(request, db, user, new_token=secret)


@router.post("/tokens/{token_id}/revoke", name="account_token_revoke")
def revoke_api_token(
    request: Request, db: SessionDep, user: CurrentUser, token_id: int
) -> Response:
    revoke_token(db, token_id=token_id, actor=user)
    db.commit()
    flash(request, "Jeton révoqué.")
    return RedirectResponse("/account", status_code=303)
