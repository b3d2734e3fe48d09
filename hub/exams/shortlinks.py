"""Short links and QR codes for posters: /s/<code> leads to a page of the hub."""

from __future__ import annotations

import io
import secrets

from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, select

from hub.db import begin_write
from hub.errors import InvalidInput, NotFound
from hub.i18n import N_
from hub.models import ShortLink

# No 0/o, 1/l/i: codes are typed from paper by people in a hurry.
ALPHABET = "abcdefghjkmnpqrstuvwxyz23456789"
CODE_LENGTH = 5  # 31^5 = 28 million codes


def _new_code() -> str:
    return "".join(secrets.choice(ALPHABET) for _ in range(CODE_LENGTH))


def short_link_for(session: Session, target: str) -> ShortLink:
    """The short link of a local page, created once and then always the same."""
    if not target.startswith("/") or target.startswith("//") or len(target) > 300:
        raise InvalidInput(N_("Adresse de page invalide."))
    existing = session.exec(select(ShortLink).where(ShortLink.target == target)).first()
    if existing is not None:
        return existing
    # Created on a GET (the poster page): the read transaction ends and a write one begins,
    # never an upgrade in place (on SQLite, "database is locked" at once under load).
    begin_write(session)
    for _ in range(5):
        link = ShortLink(code=_new_code(), target=target)
        try:
            with session.begin_nested():
                session.add(link)
                session.flush()
        except IntegrityError:  # a code collision, or another request created it first
            existing = session.exec(select(ShortLink).where(ShortLink.target == target)).first()
            if existing is not None:
                return existing
            continue
        return link
    raise RuntimeError("could not allocate a short link code")


def resolve(session: Session, code: str) -> str:
    link = session.exec(select(ShortLink).where(ShortLink.code == code.lower())).first()
    if link is None:
        raise NotFound(N_("Lien court inconnu."))
    return link.target


def qr_code(url: str, kind: str) -> bytes:
    """The QR code of an address as PNG or SVG (error correction M survives a folded poster)."""
    import segno  # here: only poster QR codes need it, not every worker's start

    code = segno.make(url, error="m", micro=False)
    buffer = io.BytesIO()
    if kind == "svg":
        code.save(buffer, kind="svg", scale=8, border=2, xmldecl=True, svgns=True)
    else:
        code.save(buffer, kind="png", scale=12, border=2)
    return buffer.getvalue()
