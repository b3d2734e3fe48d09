"""Sign-in and sign-out: password form, demo shortcuts, single sign-on (OpenID Connect)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Form, Request
from fastapi.responses import RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from hub.auth import authenticate_password, sign_in_single_sign_on
from hub.db import session_scope
from hub.demo import demo_accounts
from hub.errors import HubError, InvalidInput, NotFound, TooManyAttempts
from hub.models import User
from hub.people import get_user_by_email
from hub.web.addresses import client_address, safe_next
from hub.web.deps import OptionalUser, SessionDep, SettingsDep, flash
from hub.web.rendering import render
from hub.web.sessions import end_session, start_session

router = APIRouter(tags=["auth"])


def _login_page(
    request: Request, *, next: str, email: str = "", error: str | None = None, status: int = 200
) -> Response:
    settings = request.app.state.settings
    return render(
        request,
        "auth/login.html",
        {
            "next": safe_next(next),
            "email": email,
            "error": error,
            "demo_accounts": demo_accounts() if settings.demo else [],
        },
        status=status,
    )


def _signed_in(request: Request, user: User, next: str) -> Response:
    assert user.id is not None
    start_session(request.session, user_id=user.id, version=user.session_version)
    return RedirectResponse(safe_next(next), status_code=303)


@router.get("/login", name="login")
def login_form(request: Request, user: OptionalUser, next: str = "/") -> Response:
    if user is not None:
        return RedirectResponse(safe_next(next), status_code=303)
    return _login_page(request, next=next)


@router.post("/login")
def login(
    request: Request,
    db: SessionDep,
    settings: SettingsDep,
    # No account's address is longer (the column's size): FastAPI's 422, not a database error.
    email: Annotated[str, Form(max_length=320)] = "",
    password: Annotated[str, Form()] = "",
    next: Annotated[str, Form()] = "/",
) -> Response:
    try:
        user = authenticate_password(
            db,
            email=email,
            password=password,
            address=client_address(request),
            settings=settings,
        )
    except TooManyAttempts as exc:
        response = _login_page(request, next=next, email=email, error=exc.message, status=429)
        response.headers["Retry-After"] = str(exc.retry_after)
        return response
    except InvalidInput as exc:
        return _login_page(request, next=next, email=email, error=exc.message, status=400)
    db.commit()
    return _signed_in(request, user, next)


@router.post("/login/demo", name="demo_login")
def demo_login(
    request: Request,
    db: SessionDep,
    settings: SettingsDep,
    email: Annotated[str, Form()],
    next: Annotated[str, Form()] = "/",
) -> Response:
    """Demo mode only: sign in as one of the demo accounts without a password."""
    allowed = {account.email for account in demo_accounts()}
    if not settings.demo or email not in allowed:
        raise NotFound("Page introuvable.")
    user = get_user_by_email(db, email)
    if user is None:
        raise NotFound("Compte de démonstration absent : lancez `hub demo load`.")
    return _signed_in(request, user, next)


@router.post("/logout", name="logout")
def logout(request: Request, db: SessionDep, user: OptionalUser) -> Response:
    if user is not None and request.session.get("uid") == user.id:
        # The signed cookie is self-contained: a copy of it (stolen, or left on a shared
        # computer) would outlive the sign-out. Bumping the version ends every session of the
        # account, as a password change does.
        user.session_version += 1
        db.add(user)
        db.commit()
    end_session(request.session)
    flash(request, "Vous êtes déconnecté.")
    return RedirectResponse("/", status_code=303)


# --- single sign-on ----------------------------------------------------------------------


def _oidc_client(request: Request) -> Any:
    """The OpenID Connect client, built once per app (metadata is fetched on first use)."""
    state = request.app.state
    client = getattr(state, "oidc_client", None)
    if client is None:
        from authlib.integrations.starlette_client import OAuth

        settings = state.settings
        oauth = OAuth()
        client = oauth.register(
            name="entra",
            server_metadata_url=settings.oidc_discovery_url,
            client_id=settings.oidc_client_id,
            client_secret=settings.oidc_client_secret,
            client_kwargs={"scope": "openid email profile"},
        )
        state.oidc_client = client
    return client


def _callback_url(request: Request) -> str:
    base = request.app.state.settings.base_url
    if base:
        return base + request.app.url_path_for("sso_callback")
    return str(request.url_for("sso_callback"))


@router.get("/login/sso", name="sso_start")
async def sso_start(request: Request, settings: SettingsDep, next: str = "/") -> Response:
    if not settings.oidc_enabled:
        raise NotFound("L'authentification unique n'est pas configurée.")
    request.session["sso_next"] = safe_next(next)
    client = _oidc_client(request)
    try:
        response: Response = await client.authorize_redirect(request, _callback_url(request))
    except Exception as exc:  # provider unreachable or bad metadata
        raise HubError(
            f"Le fournisseur d'identité est injoignable ({type(exc).__name__})."
        ) from exc
    return response


@router.get("/login/sso/callback", name="sso_callback")
async def sso_callback(request: Request, settings: SettingsDep) -> Response:
    if not settings.oidc_enabled:
        raise NotFound("L'authentification unique n'est pas configurée.")
    if "error" in request.query_params:
        description = request.query_params.get("error_description") or request.query_params["error"]
        return _login_page(
            request, next="/", error=f"Connexion refusée : {description}", status=400
        )
    client = _oidc_client(request)
    try:
        token = await client.authorize_access_token(request)
    except Exception as exc:
        return _login_page(
            request,
            next="/",
            status=400,
            error=f"La connexion unique a échoué ({type(exc).__name__}). Réessayez.",
        )
    claims = token.get("userinfo") or {}
    email = claims.get("email") or claims.get("preferred_username") or claims.get("upn")

    def sign_in() -> User:
        with session_scope(request.app.state.engine) as session:
            return sign_in_single_sign_on(session, email=email)

    user = await run_in_threadpool(sign_in)
    return _signed_in(request, user, request.session.pop("sso_next", "/"))
