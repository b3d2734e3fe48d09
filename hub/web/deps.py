"""Typed dependencies shared by every route: the database session and the signed-in user."""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import AsyncIterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy.exc import InterfaceError, OperationalError
from sqlmodel import Session
from starlette.concurrency import run_in_threadpool

from hub.db import begin_read
from hub.errors import NotFound, NotSignedIn
from hub.i18n import Message, pick_locale
from hub.models import Role, User
from hub.settings import Settings
from hub.tokens import authenticate_token
from hub.web.middleware import SAFE_METHODS
from hub.web.sessions import end_session

log = logging.getLogger(__name__)

# Ending a request's transaction is a round trip to a database server (ROLLBACK, and the
# pool's reset) that must not block the event loop: under load on PostgreSQL it took 20 % of
# the loop's time, and every cached page of the process waited behind it. These threads only
# end transactions and return connections (they never check one out), so they cannot wait
# for the routes' threads or connections.
CLOSERS = ThreadPoolExecutor(max_workers=4, thread_name_prefix="hub-close")


async def get_db(request: Request) -> AsyncIterator[Session]:
    """One session per request; unsafe methods get a writer (SQLite BEGIN IMMEDIATE).

    Async on purpose: creating a session does no I/O (the connection is taken on first use,
    inside the sync route's thread), and it saves two thread hops on every request."""
    state = request.app.state
    engine = state.read_engine if request.method in SAFE_METHODS else state.write_engine
    session = Session(engine, expire_on_commit=False)
    request.state.db = session  # the page layout reads the crisis banner through it
    try:
        yield session
    finally:
        request.state.db = None  # error pages render without it (hub/web/app.py)
        if session.in_transaction() and engine.dialect.name != "sqlite":
            # Submitted before waiting: a cancelled request still gives its connection back.
            await asyncio.shield(asyncio.wrap_future(CLOSERS.submit(_close, session)))
        else:
            _close(session)  # no connection held, or an embedded SQLite: no round trip


def _close(session: Session) -> None:
    try:
        session.close()
    except (OperationalError, InterfaceError):
        # The database went away after the answer was sent: the pool drops the dead
        # connection (pre-ping replaces it); nothing of this request is lost.
        log.info("database connection lost while closing a request's session")


SessionDep = Annotated[Session, Depends(get_db)]
MAX_ID = 2**31 - 1  # the largest id our tables hold (INTEGER keys on PostgreSQL)
INTEGER = re.compile(r"-?[0-9]+")


async def load_request_context(request: Request, db: SessionDep) -> None:
    """Run for every route: find the user (token first, then cookie) and the language.
    Anonymous requests (the exam-morning crowd) touch neither the database nor a thread."""
    authorization = request.headers.get("authorization", "")
    if authorization or isinstance(request.session.get("uid"), int):
        user = await run_in_threadpool(_find_user, request, db, authorization)
    else:
        user = None
    request.state.user = user
    # What the page layout shows of the person, kept apart from the session so that an error
    # page renders after the database failed (an expired User would reload from it).
    request.state.viewer = Viewer(user.id, user.role) if user is not None else None
    request.state.locale = pick_locale(request.session.get("lang"), user.locale if user else None)
    for value in request.path_params.values():
        # An id no table can hold is absent (the databases would fail on it: a 500).
        if isinstance(value, str) and INTEGER.fullmatch(value):
            value = int(value)
        if isinstance(value, int) and not -MAX_ID - 1 <= value <= MAX_ID:
            raise NotFound("Page introuvable.")


@dataclass(frozen=True)
class Viewer:
    """The signed-in person as the page layout needs them, without the database."""

    id: int | None
    role: Role


def _find_user(request: Request, db: Session, authorization: str) -> User | None:
    """Find the user, then end the read transaction: its connection goes back to the pool
    before this thread does, so no request holds a connection while it waits for a thread
    (docs/architecture.md, "Connections and threads")."""
    try:
        begin_read(db)  # a read, even for a POST (no write lock taken to find the user)
        user = _lookup_user(request, db, authorization)
    except BaseException:
        db.rollback()
        raise
    db.commit()
    return user


def _lookup_user(request: Request, db: Session, authorization: str) -> User | None:
    user: User | None = None
    if authorization:
        scheme, _, credentials = authorization.partition(" ")
        if scheme.lower() != "bearer" or not credentials.strip():
            raise NotSignedIn("En-tête Authorization attendu : Bearer <jeton>.")
        user = authenticate_token(db, credentials.strip())
        if user is None:
            raise NotSignedIn("Jeton d'API invalide ou révoqué.")
    else:
        session = request.session
        uid = session.get("uid")
        if isinstance(uid, int):
            user = db.get(User, uid)
            if user is None or not user.is_active or user.session_version != session.get("ver"):
                user = None
                end_session(session)
    return user


def get_optional_user(request: Request) -> User | None:
    return getattr(request.state, "user", None)


def get_current_user(request: Request) -> User:
    user = get_optional_user(request)
    if user is None:
        raise NotSignedIn("Connectez-vous pour continuer.")
    return user


def get_settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


OptionalUser = Annotated[User | None, Depends(get_optional_user)]
CurrentUser = Annotated[User, Depends(get_current_user)]
SettingsDep = Annotated[Settings, Depends(get_settings)]


def flash(request: Request, message: str, kind: str = "success") -> None:
    """A one-time message shown on the next rendered page (kept in the signed session; a
    Message keeps its template and values there, to be translated when shown)."""
    item: dict[str, object] = {"message": message, "kind": kind}
    if isinstance(message, Message):
        item.update(template=message.template, params=message.params)
    request.session.setdefault("flash", []).append(item)
