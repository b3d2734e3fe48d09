"""Signing in: password checks with throttling, and single sign-on account matching."""

from __future__ import annotations

import math
from datetime import UTC, timedelta

from sqlalchemy import delete, func
from sqlmodel import Session, col, select

from hub.db import begin_read, begin_write
from hub.errors import InvalidInput, PermissionDenied, TooManyAttempts
from hub.i18n import N_
from hub.models import LoginAttempt, User, utcnow
from hub.passwords import hash_password, needs_rehash, verify_password
from hub.people import get_user_by_email, normalise_email
from hub.settings import Settings

BAD_CREDENTIALS = N_("E-mail ou mot de passe incorrect.")


def _check_throttle(session: Session, *, email: str, address: str, settings: Settings) -> None:
    since = utcnow() - timedelta(seconds=settings.login_window_seconds)
    for column, value, limit in (
        (LoginAttempt.email, email, settings.login_max_failures_per_account),
        (LoginAttempt.address, address, settings.login_max_failures_per_address),
    ):
        count, oldest = session.exec(
            select(func.count(), func.min(LoginAttempt.attempted_at)).where(
                column == value, col(LoginAttempt.attempted_at) >= since
            )
        ).one()
        if count >= limit and oldest is not None:
            if oldest.tzinfo is None:  # SQLite aggregate results bypass the column type
                oldest = oldest.replace(tzinfo=UTC)
            retry = (oldest + timedelta(seconds=settings.login_window_seconds)) - utcnow()
            raise TooManyAttempts(
                "Trop de tentatives de connexion : réessayez dans quelques minutes.",
                retry_after=max(1, math.ceil(retry.total_seconds())),
            )


def authenticate_password(
    session: Session, *, email: str, password: str, address: str, settings: Settings
) -> User:
    """Check a password sign-in; the caller commits on success.

    A failure is recorded and committed here, before raising, so throttling counts it even
    though the caller's unit of work fails.
    """
    email = normalise_email(email)
    if not email or not password:
        raise InvalidInput(BAD_CREDENTIALS)
    # Read, then check the password with no transaction open: the hash check takes ~0.25 s
    # of CPU, and on SQLite a writer's transaction would hold the database's one write lock
    # all that time (sign-ins queued behind it got "database is locked" under a rush).
    begin_read(session)
    _check_throttle(session, email=email, address=address, settings=settings)
    user = get_user_by_email(session, email)
    stored_hash = user.password_hash if user else None
    session.commit()
    ok = verify_password(stored_hash, password)
    rehashed = hash_password(password) if ok and stored_hash and needs_rehash(stored_hash) else None
    begin_write(session)
    if user is not None:
        session.refresh(user)  # deactivated or changed meanwhile: the row as it is now
    if not ok or user is None or not user.is_active or user.password_hash != stored_hash:
        session.add(LoginAttempt(email=email, address=address[:64]))
        session.commit()
        raise InvalidInput(BAD_CREDENTIALS)
    if rehashed:
        user.password_hash = rehashed
    session.exec(delete(LoginAttempt).where(col(LoginAttempt.email) == email))
    user.last_login_at = utcnow()
    session.add(user)
    session.flush()
    return user


def sign_in_single_sign_on(session: Session, *, email: str | None) -> User:
    """Map an identity-provider sign-in to an existing hub account by e-mail."""
    if not email:
        raise PermissionDenied("Le fournisseur d'identité n'a pas transmis d'adresse e-mail.")
    user = get_user_by_email(session, email)
    if user is None or not user.is_active:
        address = normalise_email(email)
        raise PermissionDenied(
            f"Aucun compte actif pour {address} : demandez à l'équipe e-learning de vous ajouter."
        )
    user.last_login_at = utcnow()
    session.add(user)
    session.flush()
    return user


def prune_login_attempts(session: Session, *, settings: Settings) -> int:
    """Forget failures older than the throttle window (a scheduled job)."""
    since = utcnow() - timedelta(seconds=settings.login_window_seconds)
    result = session.exec(delete(LoginAttempt).where(col(LoginAttempt.attempted_at) < since))
    return int(result.rowcount or 0)
