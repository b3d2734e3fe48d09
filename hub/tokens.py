"""API tokens for the JSON API: shown once, stored as a SHA-256 hash, revocable."""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any, Protocol

from sqlalchemy import or_, update
from sqlmodel import Session, col, select

from hub.db import begin_write
from hub.errors import InvalidInput, NotFound, PermissionDenied
from hub.i18n import N_, Message
from hub.models import ApiToken, Role, User, id_of, utcnow

TOKEN_PREFIX = "hub_"  # lets secret scanners and people recognise a hub token
TOKEN_BYTES = 32  # 256 bits: a hash without salt is safe at this entropy
LAST_USED_RESOLUTION = timedelta(minutes=5)  # avoid a write on every API request


def _hash(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def create_token(session: Session, *, user: User, name: str = "api") -> tuple[ApiToken, str]:
    """Create a token; returns the row and the secret, which is never stored nor shown again."""
    name = name.strip()
    if not name or len(name) > 100:
        raise InvalidInput("Nom de jeton invalide.", {"name": "1 à 100 caractères."})
    secret = TOKEN_PREFIX + secrets.token_urlsafe(TOKEN_BYTES)
    token = ApiToken(user_id=id_of(user), name=name, token_hash=_hash(secret), prefix=secret[:12])
    session.add(token)
    session.flush()
    return token, secret


def authenticate_token(session: Session, secret: str) -> User | None:
    """The active user owning an unrevoked token, or None.

    Records `last_used_at` at most every few minutes, in a write transaction of its own
    (`begin_write`: the read is committed first, never upgraded in place) guarded by the same
    condition, so a burst of calls with one token writes it once.
    """
    if not secret.startswith(TOKEN_PREFIX) or len(secret) > 200:
        return None
    row = session.exec(
        select(ApiToken, User)
        .join(User, col(User.id) == col(ApiToken.user_id))
        .where(ApiToken.token_hash == _hash(secret), col(ApiToken.revoked_at).is_(None))
    ).first()
    if row is None:
        return None
    token, user = row
    if not user.is_active:
        return None
    record_use(session, token, every=LAST_USED_RESOLUTION)
    return user


class UsedSecret(Protocol):
    id: int | None
    last_used_at: datetime | None


def record_use(session: Session, row: UsedSecret, *, every: timedelta) -> None:
    """Note when a secret (an API token, a calendar feed's address) was last used, at most
    once per `every`. Called on a GET: the read transaction ends and a write one begins
    (never an upgrade in place; on SQLite that failed with "database is locked" under
    load), and the update is conditional, so of two clients using it at once one writes."""
    now = utcnow()
    if row.last_used_at is not None and now - row.last_used_at <= every:
        return
    table: Any = type(row)  # a table model with `id` and `last_used_at`
    begin_write(session)
    session.execute(
        update(table)
        .where(
            col(table.id) == row.id,
            or_(col(table.last_used_at).is_(None), col(table.last_used_at) < now - every),
        )
        .values(last_used_at=now)
    )
    session.commit()


def list_tokens(session: Session, *, user: User) -> Sequence[ApiToken]:
    return session.exec(
        select(ApiToken).where(ApiToken.user_id == user.id).order_by(col(ApiToken.id).desc())
    ).all()


def revoke_token(session: Session, *, token_id: int, actor: User | None) -> ApiToken:
    """Revoke a token; its owner or the e-learning team may do it, or the server operator at
    the command line (`actor=None`). Idempotent."""
    token = session.get(ApiToken, token_id)
    if token is None:
        raise NotFound(Message(N_("Jeton inconnu : %(id)s"), id=token_id))
    if actor is not None and token.user_id != actor.id and actor.role is not Role.elearning:
        raise PermissionDenied("Ce jeton n'est pas le vôtre.")
    if token.revoked_at is None:
        token.revoked_at = utcnow()
        session.add(token)
        session.flush()
    return token
