"""Password hashing with argon2id (OWASP's first choice), rehashing when parameters change."""

from __future__ import annotations

from functools import cache

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from hub.errors import InvalidInput
from hub.i18n import N_, Message

MIN_PASSWORD_LENGTH = 10  # NIST SP 800-63B asks for at least 8; staff accounts get a bit more
MAX_PASSWORD_LENGTH = 256  # bounds hashing cost of absurd inputs

_hasher = PasswordHasher()


@cache
def _dummy_hash() -> str:
    """Verified against when the account does not exist, so timing does not reveal which
    e-mails exist. Made on first use, not at import: hashing costs ~0.4 s of CPU and 64 MiB,
    which every web worker paid while starting."""
    return _hasher.hash("not-a-real-password-but-same-cost")


def check_password_strength(password: str) -> None:
    if len(password) < MIN_PASSWORD_LENGTH:
        raise InvalidInput(
            Message(
                N_("Le mot de passe doit contenir au moins %(count)d caractères."),
                count=MIN_PASSWORD_LENGTH,
            ),
            {"password": Message(N_("Au moins %(count)d caractères."), count=MIN_PASSWORD_LENGTH)},
        )
    if len(password) > MAX_PASSWORD_LENGTH:
        raise InvalidInput(
            N_("Le mot de passe est trop long."),
            {
                "password": Message(
                    N_("Mot de passe trop long (%(count)d caractères au plus)."),
                    count=MAX_PASSWORD_LENGTH,
                )
            },
        )


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def verify_password(password_hash: str | None, password: str) -> bool:
    if len(password) > MAX_PASSWORD_LENGTH:
        return False
    try:
        return (
            _hasher.verify(password_hash or _dummy_hash(), password) and password_hash is not None
        )
    except (VerificationError, InvalidHashError):
        return False


def needs_rehash(password_hash: str) -> bool:
    return _hasher.check_needs_rehash(password_hash)
